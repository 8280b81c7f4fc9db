"""The resource types the FHIR interface serves: one provider each, in one registry.

A provider knows how to read one resource of its type, search them (in a
stable order, resumable after any key, so pages and exports stream) and say
which patient a resource is about. Everything else - the CapabilityStatement,
searchset Bundles and paging, `Patient/$everything`, Bulk Data `$export` - is
built once from the registry, so a new type is one provider and one line in
`REGISTRY` (`app/fhir/resources/__init__.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from app.core.errors import NotFoundError
from app.fhir.codes import Json
from app.fhir.context import Criteria, FhirContext, Key

RESOURCE_DEFINITION = "http://hl7.org/fhir/SearchParameter/Resource-"


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str  # FHIR search parameter type: token, reference, date
    definition: str
    documentation: str


LAST_UPDATED = SearchParam(
    "_lastUpdated",
    "date",
    RESOURCE_DEFINITION + "lastUpdated",
    "When the resource last changed; prefixes eq, gt, ge, lt, le; repeat to bound both sides.",
)
ID = SearchParam("_id", "token", RESOURCE_DEFINITION + "id", "The resource's id (comma: any of).")
PATIENT = SearchParam(
    "patient",
    "reference",
    "http://hl7.org/fhir/SearchParameter/clinical-patient",
    "`7` or `Patient/7` (comma: any of); only the clinic's linked patients match.",
)


@dataclass(frozen=True, slots=True)
class Found:
    """One resource a search found: its place in the order, whose it is, and itself."""

    key: Key
    patient_id: int | None  # None: about no one patient (a Questionnaire)
    resource: Json


class ResourceProvider(Protocol):
    """One resource type. Every query goes through the context's scope and live consent."""

    resource_type: str
    search_params: tuple[SearchParam, ...]
    # Whether its resources are about a patient: `patient` searches, $everything, $export.
    in_patient_compartment: bool

    def read(self, ctx: FhirContext, resource_id: str) -> Json:
        """The resource, or NotFoundError (GoneError for one deleted)."""
        ...

    def search(self, ctx: FhirContext, criteria: Criteria, after: Key | None) -> Iterator[Found]:
        """Every match in a stable order, starting after `after`; read lazily in batches."""
        ...

    def patient_of(self, resource: Json) -> int | None:
        """Which patient a resource produced here is about (None: no one in particular)."""
        ...


class Registry:
    def __init__(self, providers: Iterable[ResourceProvider]) -> None:
        self.providers: tuple[ResourceProvider, ...] = tuple(providers)
        self._by_type = {provider.resource_type: provider for provider in self.providers}

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self._by_type)

    def get(self, resource_type: str) -> ResourceProvider:
        provider = self._by_type.get(resource_type)
        if provider is None:
            supported = ", ".join(self._by_type)
            raise NotFoundError(
                f"This server does not serve '{resource_type[:64]}' resources; it serves "
                f"{supported} (see metadata)."
            )
        return provider

    def about_patients(self) -> tuple[ResourceProvider, ...]:
        return tuple(p for p in self.providers if p.in_patient_compartment)


def reference_id(reference: object, resource_type: str) -> int | None:
    """The numeric id in `{"reference": "Patient/7"}`-style references."""
    if not isinstance(reference, dict):
        return None
    text = str(reference.get("reference", ""))
    prefix = resource_type + "/"
    if text.startswith(prefix) and text[len(prefix) :].isdigit():
        return int(text[len(prefix) :])
    return None


def subject_patient(resource: Json) -> int | None:
    return reference_id(resource.get("subject"), "Patient")
