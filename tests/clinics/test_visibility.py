"""One patient, two clinics: each clinic reads only what is its business.

Patient P consented to clinics Alpha and Bravo. Bravo built its own program and
assigned it; P logged a painful session with a note in it. Alpha overrode P's
stage in a public program with a private reason. Every clinic read route,
enumerated from the app, is then asked about P by each clinic's owner and API
client: Alpha must never see Bravo's program, its notes or that pain, and Bravo
must never see Alpha's staff or reason. What each clinic may see, it does.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.fhir.resources import REGISTRY
from tests.conftest import (
    ClinicFactory,
    ClinicSetup,
    Person,
    PersonFactory,
    create_api_client,
    link,
)
from tests.progress.conftest import now

pytestmark = pytest.mark.usefixtures("seeded")

PUBLIC = "whole-leg-rehabilitation"
PUBLIC_HOOK = "https://93.184.216.34/hook"
PRIVATE_NOTE = "Knee swelled after the stairs"
PRIVATE_PAIN = 9
OVERRIDE_REASON = "Alpha cleared the squat pattern in person"
CLINIC_PREFIX = "/v1/clinics/{clinic_id}"
PARAM = re.compile(r"{(\w+)}")
EVENTS = [
    "session.logged",
    "stage.advanced",
    "pain.reported",
    "link.created",
    "link.revoked",
    "program.assigned",
]


@dataclass
class ClinicSide:
    clinic: ClinicSetup
    client_headers: dict[str, str]
    webhook_id: int
    program_slug: str  # the clinic's own program, short slug

    def readers(self) -> dict[str, dict[str, str]]:
        return {"owner": self.clinic.owner.headers, "api client": self.client_headers}


@dataclass
class Story:
    alpha: ClinicSide
    bravo: ClinicSide
    patient: Person
    bravo_program: str  # stored slug of Bravo's program
    bravo_program_name: str


def clinic_program(name: str, slug: str) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": name,
        "description": "For one knee.",
        "stages": [
            {
                "position": 1,
                "name": "Calm",
                "guidance": "Gently.",
                "exercises": [{"exercise": "figure-four-stretch", "sets": 2, "hold_seconds": 30}],
            }
        ],
    }


def side(client: TestClient, clinic: ClinicSetup, slug: str, name: str) -> ClinicSide:
    _, headers = create_api_client(
        client, clinic, ["patients:read", "programs:write", "webhooks:manage", "fhir:read"]
    )
    hook = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": f"{PUBLIC_HOOK}/{slug}", "event_types": EVENTS},
    )
    assert hook.status_code == 201, hook.text
    built = client.post(
        clinic.path("/programs"), headers=clinic.owner.headers, json=clinic_program(name, slug)
    )
    assert built.status_code == 201, built.text
    return ClinicSide(clinic, headers, hook.json()["id"], slug)


def put_session(client: TestClient, patient: Person, body: dict[str, Any]) -> None:
    response = client.put(f"/v1/me/sessions/{uuid.uuid4()}", headers=patient.headers, json=body)
    assert response.status_code == 201, response.text


@pytest.fixture
def story(client: TestClient, make_clinic: ClinicFactory, make_person: PersonFactory) -> Story:
    alpha = side(client, make_clinic("Alpha Physio"), "hip-plan", "Alpha's hip plan")
    bravo = side(client, make_clinic("Bravo Sports"), "knee-plan", "Bravo's knee plan")
    patient = make_person()
    link(client, alpha.clinic, patient)
    link(client, bravo.clinic, patient)
    assigned = client.post(
        bravo.clinic.path(f"/patients/{patient.id}/enrollments"),
        headers=bravo.clinic.owner.headers,
        json={"program": "knee-plan"},
    )
    assert assigned.status_code == 201, assigned.text
    bravo_program = assigned.json()["program"]
    enrolled = client.post("/v1/me/enrollments", headers=patient.headers, json={"program": PUBLIC})
    assert enrolled.status_code == 201, enrolled.text
    moved = client.put(
        alpha.clinic.path(f"/patients/{patient.id}/enrollments/{PUBLIC}/stage"),
        headers=alpha.clinic.owner.headers,
        json={"stage": 2, "reason": OVERRIDE_REASON},
    )
    assert moved.status_code == 200, moved.text
    put_session(
        client,
        patient,
        {
            "program": bravo_program,
            "stage": 1,
            "performed_at": now().isoformat(),
            "note": PRIVATE_NOTE,
            "entries": [
                {
                    "exercise": "figure-four-stretch",
                    "sets_done": 2,
                    "difficulty": "hard",
                    "pain": PRIVATE_PAIN,
                    "note": PRIVATE_NOTE,
                }
            ],
        },
    )
    return Story(alpha, bravo, patient, bravo_program, "Bravo's knee plan")


def read_routes(client: TestClient) -> list[str]:
    """Every GET route under /v1/clinics/{clinic_id}, from the app itself."""
    found = [
        route.path or ""
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if (route.path or "").startswith(CLINIC_PREFIX) and "GET" in (route.methods or ())
    ]
    # A read route nobody enumerated would be a read nobody checked.
    assert len(found) >= 12, found
    return sorted(found)


FHIR = CLINIC_PREFIX + "/fhir/R4"
# The FHIR routes, asked below with real ids (a template alone names no resource).
FHIR_READS = {
    f"{FHIR}/metadata",
    f"{FHIR}/{{resource_type}}",
    f"{FHIR}/{{resource_type}}/{{resource_id}}",
    f"{FHIR}/Patient/{{resource_id}}/$everything",
    f"{FHIR}/Patient/$export",
    f"{FHIR}/$export-status/{{job_id}}",
}
FHIR_ELSEWHERE = {f"{FHIR}/{{rest:path}}"}  # anything else: a 404 OperationOutcome


def fhir_reads(
    client: TestClient, story: Story, reader: ClinicSide, headers: dict[str, str]
) -> Iterator[tuple[str, Any]]:
    """(what, answer) for everything the clinic's FHIR base gives about the patient: the
    statement, each type's search and every resource read back, $everything, and a bulk
    export's NDJSON files."""
    base = f"/v1/clinics/{reader.clinic.id}/fhir/R4"
    patient = story.patient.id

    def get(path: str, **params: Any) -> Any:
        response = client.get(base + path, headers=headers, params=params)
        assert response.status_code == 200, f"GET {path}: {response.text}"
        return response.json()

    yield f"{FHIR}/metadata", get("/metadata")
    for provider in REGISTRY.providers:
        kind = provider.resource_type
        by_patient = any(param.name == "patient" for param in provider.search_params)
        found = get(f"/{kind}", patient=patient) if by_patient else get(f"/{kind}")
        yield f"{FHIR}/{{resource_type}} {kind}", found
        for entry in found.get("entry", []):
            resource = entry["resource"]
            if resource["resourceType"] == kind:
                yield (
                    f"{FHIR}/{{resource_type}}/{{resource_id}} {kind}",
                    get(f"/{kind}/{resource['id']}"),
                )
    yield f"{FHIR}/Patient/{{resource_id}}/$everything", get(f"/Patient/{patient}/$everything")
    started = client.get(base + "/Patient/$export", headers=headers)
    assert started.status_code == 202, started.text
    status = urlsplit(started.headers["content-location"]).path
    manifest = client.get(status, headers=headers)
    assert manifest.status_code == 200, manifest.text
    yield f"{FHIR}/$export-status/{{job_id}}", manifest.json()
    for item in manifest.json()["output"]:
        link = urlsplit(item["url"])
        lines = client.get(f"{link.path}?{link.query}").content.splitlines()
        yield f"{FHIR}/Patient/$export {item['type']}", [json.loads(line) for line in lines]


def reads(client: TestClient, story: Story, reader: ClinicSide) -> Iterator[tuple[str, Any]]:
    """(route, answer) of every clinic read route about the patient, as `reader` asks."""
    params = {
        "clinic_id": str(reader.clinic.id),
        "patient_id": str(story.patient.id),
        "webhook_id": str(reader.webhook_id),
        "program_slug": reader.program_slug,
        "program": PUBLIC,  # a handout: the program both clinics may see
    }
    templates = read_routes(client)
    fhir = {t for t in templates if t.startswith(FHIR)}
    assert fhir == FHIR_READS | FHIR_ELSEWHERE, f"FHIR routes to ask about: {fhir - FHIR_READS}"
    for who, headers in reader.readers().items():
        for route, answer in fhir_reads(client, story, reader, headers):
            yield f"{who} GET {route}", answer
    for template in sorted(set(templates) - fhir):
        names = PARAM.findall(template)
        unknown = [name for name in names if name not in params]
        assert not unknown, f"GET {template}: no value for {unknown}; extend the test"
        path = template.format(**{name: params[name] for name in names})
        for who, headers in reader.readers().items():
            response = client.get(path, headers=headers)
            if who == "api client" and response.status_code == 403:
                continue  # a route for the clinic's people only: the client reads nothing
            assert response.status_code == 200, f"{who} GET {template}: {response.text}"
            yield f"{who} GET {template}", answer_of(response)


def answer_of(response: Any) -> Any:
    """JSON as parsed; a PDF handout as its text."""
    if response.headers["content-type"] == "application/pdf":
        return "\n".join(
            page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages
        )
    return response.json()


def values_under(document: Any, keys: set[str]) -> list[Any]:
    """Every value in a JSON document stored under one of `keys`, at any depth."""
    found: list[Any] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in keys:
                found.append(value)
            found += values_under(value, keys)
    elif isinstance(document, list):
        for item in document:
            found += values_under(item, keys)
    return found


PAIN_KEYS = {"pain", "worst_pain", "max_pain", "value"}


def test_a_clinic_never_reads_what_its_patient_does_in_another_clinics_program(
    client: TestClient, story: Story
) -> None:
    for route, answer in reads(client, story, story.alpha):
        text = str(answer)
        assert PRIVATE_NOTE not in text, route
        assert story.bravo_program not in text, route
        assert story.bravo_program_name not in text, route
        pains = [p for p in values_under(answer, PAIN_KEYS) if isinstance(p, int)]
        assert PRIVATE_PAIN not in pains, route


def test_a_clinic_never_reads_another_clinics_staff_or_reasons(
    client: TestClient, story: Story
) -> None:
    alpha_staff = story.alpha.clinic.owner.id
    for route, answer in reads(client, story, story.bravo):
        assert OVERRIDE_REASON not in str(answer), route
        named = values_under(answer, {"changed_by", "assigned_by", "assigned_by_id"})
        assert alpha_staff not in named, route


def test_each_clinic_still_reads_its_own_business(client: TestClient, story: Story) -> None:
    bravo_answers = dict(reads(client, story, story.bravo))
    bravo_sessions = bravo_answers[f"owner GET {CLINIC_PREFIX}/patients/{{patient_id}}/sessions"]
    assert [item["note"] for item in bravo_sessions["items"]] == [PRIVATE_NOTE]
    summary = bravo_answers[f"owner GET {CLINIC_PREFIX}/patients/{{patient_id}}"]
    assert summary["latest_pain"]["value"] == PRIVATE_PAIN
    assert {p["program"] for p in summary["programs"]} == {story.bravo_program, PUBLIC}
    for who in ("owner", "api client"):
        observations = bravo_answers[f"{who} GET {FHIR}/{{resource_type}} Observation"]
        assert PRIVATE_NOTE in str(observations)
        assert PRIVATE_PAIN in values_under(observations, PAIN_KEYS)

    alpha_answers = dict(reads(client, story, story.alpha))
    enrollments = alpha_answers[f"owner GET {CLINIC_PREFIX}/patients/{{patient_id}}/enrollments"]
    assert [e["program"] for e in enrollments] == [PUBLIC]
    [override] = [h for h in enrollments[0]["history"] if h["reason"] == "clinician"]
    assert (override["note"], override["changed_by"]) == (
        OVERRIDE_REASON,
        story.alpha.clinic.owner.id,
    )
    alpha_sessions = alpha_answers[f"owner GET {CLINIC_PREFIX}/patients/{{patient_id}}/sessions"]
    assert (alpha_sessions["items"], alpha_sessions["has_more"]) == ([], False)


def test_the_patient_sees_every_program_note_and_reason_of_their_own(
    client: TestClient, story: Story
) -> None:
    own = client.get("/v1/me/enrollments", headers=story.patient.headers).json()
    assert {e["program"] for e in own["items"]} == {story.bravo_program, PUBLIC}
    public = client.get(f"/v1/me/enrollments/{PUBLIC}", headers=story.patient.headers).json()
    assert OVERRIDE_REASON in [h["note"] for h in public["history"]]
    feed = client.get("/v1/me/sessions", headers=story.patient.headers).json()
    assert [item["note"] for item in feed["items"]] == [PRIVATE_NOTE]
