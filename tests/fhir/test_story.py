"""One patient's whole story, as their clinic's system reads it in FHIR at every step.

The clinic assigns Whole Leg Rehabilitation; the patient logs six sessions over
the stage's week (one of them painful), advances to Level 2, and later withdraws
consent. After each step the clinic's API client reads the patient's
resources, each validated against the R4B models. (Questionnaire and
QuestionnaireResponse join this story when the outcome instruments land.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from app.core.db import Database
from app.progress.models import Enrollment
from tests.conftest import ClinicFactory, LinkedPatientFactory, api_client_token
from tests.fhir.conftest import PROGRAM, bundle_resources, fhir_json
from tests.progress.conftest import log, now, session_body, stage_slugs


def codes(observation: dict[str, Any]) -> dict[str, Any]:
    """An Observation's components by code: the value of each."""
    found = {}
    for component in observation.get("component", []):
        code = component["code"]["coding"][0]["code"]
        value = next(v for k, v in component.items() if k.startswith("value"))
        found[code] = value
    return found


def test_a_patients_story_read_in_fhir(
    client: TestClient,
    database: Database,
    seeded: object,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    clinic = make_clinic("Riverside Physio")
    patient = make_linked_patient(clinic)
    headers = api_client_token(client, clinic, ["fhir:read"])
    base = f"/v1/clinics/{clinic.id}/fhir/R4"

    def read(path: str, **params: Any) -> dict[str, Any]:
        return fhir_json(client.get(base + path, headers=headers, params=params))

    # The clinic assigns the program: a care plan, and an order based on it.
    assigned = client.post(
        clinic.path(f"/patients/{patient.id}/enrollments"),
        headers=clinic.owner.headers,
        json={"program": PROGRAM},
    )
    assert assigned.status_code == 201, assigned.text
    [plan] = bundle_resources(read("/CarePlan", patient=patient.id))
    [order] = bundle_resources(read("/ServiceRequest", patient=patient.id))
    assert plan["status"] == "active"
    assert plan["extension"][0]["valuePositiveInt"] == 1
    assert (order["intent"], order["requester"]["display"]) == ("order", "Riverside Physio")
    level_one = stage_slugs(client, PROGRAM, 1)
    assert [a["detail"]["code"]["coding"][0]["code"] for a in plan["activity"]] == level_one

    # Six sessions over the stage's first week, every exercise easy, one of them painful.
    eight_days_ago = now() - timedelta(days=8)
    with database.write_session() as session:  # as if the program was assigned then
        session.execute(
            update(Enrollment)
            .where(col(Enrollment.user_id) == patient.id)
            .values(started_at=eight_days_ago, stage_started_at=eight_days_ago)
        )
    for day in range(6):
        body = session_body(
            PROGRAM,
            1,
            level_one,
            pain=3 if day == 2 else 1,
            performed_at=now() - timedelta(days=7 - day),
        )
        assert log(client, patient, body).status_code == 201
    observations = bundle_resources(read("/Observation", patient=patient.id, _count=200))
    sessions = [o for o in observations if o["code"]["coding"][0]["code"] == "PAPanel"]
    assert len(sessions) == 6
    assert sorted(codes(o)["72514-3"]["value"] for o in sessions) == [1, 1, 1, 1, 1, 3]
    assert all(codes(o)["exercises-done"] == len(level_one) for o in sessions)
    assert all(codes(o)["difficulty"]["coding"][0]["code"] == "easy" for o in sessions)
    weeks = [o for o in observations if o["id"].startswith("adherence-")]
    assert sum(codes(o)["sessions-logged"] for o in weeks) == 6
    assert all(o["basedOn"] == [{"reference": f"CarePlan/{plan['id']}"}] for o in weeks)

    # The rule is met: the patient advances, and the plan follows.
    before = plan["meta"]["lastUpdated"]
    advanced = client.post(f"/v1/me/enrollments/{PROGRAM}/advance", headers=patient.headers)
    assert advanced.status_code == 200, advanced.text
    [moved] = bundle_resources(read("/CarePlan", _lastUpdated=f"gt{before}"))
    assert moved["extension"][0]["valuePositiveInt"] == 2
    assert [a["detail"]["code"]["coding"][0]["code"] for a in moved["activity"]] == (
        stage_slugs(client, PROGRAM, 2)
    )
    assert "Stage 2 of" in read(f"/ServiceRequest/{order['id']}")["code"]["text"]

    # Everything at once, then nothing once consent is withdrawn.
    everything = bundle_resources(read(f"/Patient/{patient.id}/$everything", _count=200))
    assert {r["resourceType"] for r in everything} == {
        "Patient",
        "CarePlan",
        "ServiceRequest",
        "Observation",
    }
    assert len(everything) == 3 + len(observations)
    withdrawn = client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert withdrawn.status_code == 204
    gone = client.get(f"{base}/Patient/{patient.id}/$everything", headers=headers)
    assert fhir_json(gone, 404)["issue"][0]["code"] == "not-found"
