"""FHIR test helpers: validation against the standard's own (R4B) models, and a clinic world.

`valid` parses a resource (and, in a Bundle, every entry) with `fhir.resources`'
R4B models, which fail on unknown elements and wrong types; it then checks what
those models leave alone: no empty element anywhere (FHIR's ele-1), and the
required code bindings of the statuses and kinds this server sets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class

from app.authoring.report import ContentReport
from tests.conftest import (
    ClinicFactory,
    ClinicSetup,
    LinkedPatientFactory,
    Person,
    api_client_token,
)
from tests.outcomes.conftest import Answer, answered, instruments, schedule
from tests.progress.conftest import enroll, session_body, stage_slugs

__all__ = ["instruments"]  # a fixture the FHIR world uses: the seeded instruments

PROGRAM = "whole-leg-rehabilitation"
FHIR_JSON = "application/fhir+json"

# Required bindings the models do not check.
BINDINGS: dict[tuple[str, str], set[str]] = {
    ("Observation", "status"): {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
    ("CarePlan", "status"): {
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    },
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("ServiceRequest", "status"): {
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    },
    ("ServiceRequest", "intent"): {
        "proposal",
        "plan",
        "directive",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    },
    ("QuestionnaireResponse", "status"): {
        "in-progress",
        "completed",
        "amended",
        "entered-in-error",
        "stopped",
    },
    ("Questionnaire", "status"): {"draft", "active", "retired", "unknown"},
    ("Bundle", "type"): {"searchset", "collection", "document", "message", "history"},
    ("CapabilityStatement", "kind"): {"instance", "capability", "requirements"},
    ("OperationOutcome", "issue"): set(),
}
ISSUE_SEVERITIES = {"fatal", "error", "warning", "information"}


def empty_elements(node: Any, path: str = "") -> list[str]:
    """Paths of empty strings, lists, objects and nulls: FHIR has no empty elements."""
    if node is None or node == "" or node == [] or node == {}:
        return [path or "."]
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += empty_elements(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += empty_elements(value, f"{path}[{index}]")
    return found


def binding_faults(resource: dict[str, Any]) -> list[str]:
    kind = resource["resourceType"]
    faults = []
    for (owner, element), allowed in BINDINGS.items():
        if owner == kind and allowed and element in resource and resource[element] not in allowed:
            faults.append(f"{kind}.{element} = {resource[element]!r}")
    if kind == "OperationOutcome":
        faults += [
            f"issue severity {i['severity']!r}"
            for i in resource["issue"]
            if i["severity"] not in ISSUE_SEVERITIES
        ]
    for contained in resource.get("contained", []):
        faults += binding_faults(contained)
    for entry in resource.get("entry", []) if kind == "Bundle" else []:
        faults += binding_faults(entry["resource"])
    return faults


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once the R4B models and the checks above accept it (else the test fails)."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)  # raises on any validation error
    assert empty_elements(resource) == [], resource
    assert binding_faults(resource) == [], resource
    return resource


def fhir_json(response: Any, status: int = 200) -> dict[str, Any]:
    """A FHIR answer: its status, its media type, and a valid resource."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON), response.headers
    body: dict[str, Any] = response.json()
    return valid(body)


@dataclass
class FhirWorld:
    client: TestClient
    clinic: ClinicSetup
    headers: dict[str, str]  # the clinic's API client with fhir:read
    patient: Person
    sessions: list[str]
    responses: list[str]  # the patient's answers to the pain rating

    def base(self, clinic: ClinicSetup | None = None) -> str:
        return f"/v1/clinics/{(clinic or self.clinic).id}/fhir/R4"

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(
            self.base() + path, headers=self.headers if headers is None else headers, params=params
        )

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        return fhir_json(self.get(path, **params))


def log_session(
    client: TestClient, person: Person, program: str = PROGRAM, stage: int = 1, **kwargs: Any
) -> str:
    session_id = str(uuid.uuid4())
    body = session_body(program, stage, stage_slugs(client, program, stage)[:2], **kwargs)
    response = client.put(f"/v1/me/sessions/{session_id}", headers=person.headers, json=body)
    assert response.status_code == 201, response.text
    return session_id


def answer_pain_rating(
    client: TestClient, clinic: ClinicSetup, patient: Person, worst: int, average: int
) -> str:
    """The clinic asks its patient for the pain rating and they answer: the response's id."""
    asked = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    response = answered(client, patient, Answer(asked["id"], {"worst": worst, "average": average}))
    response_id: str = response["id"]
    return response_id


@pytest.fixture
def fhir_world(
    client: TestClient,
    seeded: ContentReport,
    instruments: None,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
) -> FhirWorld:
    clinic = make_clinic("Riverside Physio")
    patient = make_linked_patient(clinic)
    enroll(client, patient, PROGRAM)
    sessions = [log_session(client, patient, pain=pain) for pain in (2, 4)]
    responses = [answer_pain_rating(client, clinic, patient, worst=6, average=3)]
    headers = api_client_token(client, clinic, ["fhir:read"])
    return FhirWorld(client, clinic, headers, patient, sessions, responses)


def bundle_resources(bundle: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry.get("search", {}).get("mode") == "match"
        and (kind is None or entry["resource"]["resourceType"] == kind)
    ]


def next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle["link"]:
        if link["relation"] == "next":
            url: str = link["url"]
            return url
    return None
