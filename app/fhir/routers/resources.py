"""The FHIR R4 read interface of one clinic: metadata, read, search, $everything.

Base URL `/v1/clinics/{clinic_id}/fhir/R4`, on the clinic's default-deny router:
its staff and its API clients with `fhir:read` get through, everyone else gets
an OperationOutcome (404 for outsiders). Every read goes through the clinic's
scope and live consent (`FhirContext`), and the patients it returned are in
their access logs. These routes are not in the OpenAPI
document: a FHIR server's contract is its CapabilityStatement (`metadata`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from app.catalog.deps import CatalogDep
from app.clinics.deps import FhirReaderDep, clinic_router, record_access
from app.clinics.service import ClinicActor, get_clinic
from app.core.deps import ReadSessionDep
from app.core.errors import NotFoundError
from app.core.models import utcnow
from app.fhir import search
from app.fhir.capability import capability_statement
from app.fhir.context import FhirContext
from app.fhir.registry import Found
from app.fhir.resources import REGISTRY
from app.fhir.routers.http import FHIR_PREFIX, FhirResponse, FhirRoute, api_root, fhir_base
from app.fhir.search import check_format

router = clinic_router(tags=["fhir"], route_class=FhirRoute, include_in_schema=False)

ResourceType = Annotated[str, Path(max_length=64, pattern=r"^[A-Z][A-Za-z]{0,63}$")]
ResourceId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9\-.]{1,64}$")]
PreferHeader = Annotated[str | None, Header(max_length=200)]


def fhir_context(
    actor: FhirReaderDep, session: ReadSessionDep, snapshot: CatalogDep, request: Request
) -> FhirContext:
    clinic = get_clinic(session, actor.clinic_id)
    return FhirContext(session, actor.clinic_id, clinic.name, snapshot, utcnow(), api_root(request))


ContextDep = Annotated[FhirContext, Depends(fhir_context)]


def strict(prefer: str | None) -> bool:
    return "handling=strict" in (prefer or "").replace(" ", "").lower()


@router.get(FHIR_PREFIX + "/metadata", name="fhir_metadata")
def metadata(ctx: ContextDep, request: Request) -> FhirResponse:
    """The CapabilityStatement: every type, interaction, parameter and operation served."""
    check_format(request.query_params.multi_items())
    base = fhir_base(request, ctx.clinic_id)
    return FhirResponse(capability_statement(REGISTRY, base=base, clinic_name=ctx.clinic_name))


@router.get(FHIR_PREFIX + "/Patient/{resource_id}/$everything", name="fhir_patient_everything")
def patient_everything(
    resource_id: ResourceId,
    ctx: ContextDep,
    actor: FhirReaderDep,
    request: Request,
    prefer: PreferHeader = None,
) -> FhirResponse:
    """The patient and everything about them the clinic may see, in pages."""
    patient = REGISTRY.get("Patient").read(ctx, resource_id)
    wanted, types = search.parse_everything(
        REGISTRY, request.query_params.multi_items(), strict=strict(prefer)
    )
    found = search.everything(
        ctx, REGISTRY, patient_id=int(patient["id"]), types=types, request=wanted
    )
    return _searchset_page(
        found,
        wanted,
        path=f"Patient/{resource_id}/$everything",
        read=lambda _: [int(patient["id"])],  # the patient, even on an empty page
        ctx=ctx,
        actor=actor,
        request=request,
    )


@router.get(FHIR_PREFIX + "/{resource_type}", name="fhir_search")
def search_type(
    resource_type: ResourceType,
    ctx: ContextDep,
    actor: FhirReaderDep,
    request: Request,
    prefer: PreferHeader = None,
) -> FhirResponse:
    """A searchset Bundle of one type, `_count` at a time, with a `next` link."""
    provider = REGISTRY.get(resource_type)
    wanted = search.parse_search(
        provider, request.query_params.multi_items(), strict=strict(prefer)
    )
    return _searchset_page(
        provider.search(ctx, wanted.criteria, wanted.after),
        wanted,
        path=resource_type,
        read=lambda page: {found.patient_id for found in page if found.patient_id is not None},
        ctx=ctx,
        actor=actor,
        request=request,
    )


def _searchset_page(
    found: Iterator[Found],
    wanted: search.SearchRequest,
    *,
    path: str,
    read: Callable[[list[Found]], Iterable[int]],
    ctx: FhirContext,
    actor: ClinicActor,
    request: Request,
) -> FhirResponse:
    """One page of `found` as a searchset Bundle; the patients `read` names for the page
    go in their access logs first."""
    page, next_key = search.take(found, wanted.count)
    record_access(request, actor, read(page))
    return FhirResponse(
        search.searchset(
            base=fhir_base(request, ctx.clinic_id),
            path=path,
            page=page,
            next_key=next_key,
            request=wanted,
            now=ctx.now,
        )
    )


@router.get(FHIR_PREFIX + "/{resource_type}/{resource_id}", name="fhir_read")
def read(
    resource_type: ResourceType,
    resource_id: ResourceId,
    ctx: ContextDep,
    actor: FhirReaderDep,
    request: Request,
) -> FhirResponse:
    check_format(request.query_params.multi_items())
    provider = REGISTRY.get(resource_type)
    resource = provider.read(ctx, resource_id)
    patient_id = provider.patient_of(resource)
    record_access(request, actor, [] if patient_id is None else [patient_id])
    return FhirResponse(resource)


@router.get(FHIR_PREFIX + "/{rest:path}", name="fhir_unknown")
def unknown(rest: Annotated[str, Path(max_length=2000)], actor: FhirReaderDep) -> FhirResponse:
    """Anything else under the base: an OperationOutcome, never the API's problem document."""
    del actor
    raise NotFoundError(f"This FHIR server has nothing at '{rest[:100]}'; see metadata.")
