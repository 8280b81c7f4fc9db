"""Who looked at my data: every read of a patient's data by a clinic is in an append-only
log the patient reads, and the clinic's owners too."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import select

from app.access.policy import Role
from app.clinics.access_log import ACCESS_LOG, AccessLog
from app.clinics.models import AccessRecord
from app.core.db import Database
from app.core.models import utcnow
from tests.conftest import (
    ClinicFactory,
    ClinicSetup,
    LinkedPatientFactory,
    Person,
    PersonFactory,
    add_staff,
    api_client_token,
)
from tests.progress.conftest import enroll

CLINIC_PREFIX = "/v1/clinics/{clinic_id}"
# Clinic read routes that show nothing of any patient: the clinic itself, its staff, its
# programs, codes, systems and webhooks, and the log itself. Every other read must log.
NOT_ABOUT_A_PATIENT = {
    "get_clinic",
    "list_members",
    "list_clinic_programs",
    "get_clinic_program",
    "list_invitations",
    "list_staff_invitations",
    "list_api_clients",
    "list_webhooks",
    "list_deliveries",
    "clinic_access_log",
    "fhir_metadata",  # the CapabilityStatement
    "fhir_export_status",  # a job's progress and its signed links
    "fhir_unknown",  # nothing is there
    "get_adherence_alert",  # the clinic's own threshold
}
PARAM = re.compile(r"{(\w+)(?::\w+)?}")
PROGRAM = "whole-leg-rehabilitation"


def log_of(client: TestClient) -> AccessLog:
    return ACCESS_LOG.of_app(client.app)


def my_log(client: TestClient, person: Person, **params: Any) -> list[dict[str, Any]]:
    log_of(client).flush()
    response = client.get("/v1/me/access-log", headers=person.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def clinic_read_routes(client: TestClient) -> dict[str, str]:
    """Every GET under /v1/clinics/{clinic_id}, by name, from the app itself."""
    found: dict[str, str] = {}
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        if path.startswith(CLINIC_PREFIX) and "GET" in (route.methods or ()):
            found[str(route.name)] = path
    return found


@pytest.mark.usefixtures("seeded")
def test_every_clinic_read_of_a_patient_is_logged_for_that_patient(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    enroll(client, patient, PROGRAM)
    routes = clinic_read_routes(client)
    assert set(routes) >= NOT_ABOUT_A_PATIENT, "a route named here no longer exists"
    about_patients = {
        name: path for name, path in routes.items() if name not in NOT_ABOUT_A_PATIENT
    }
    assert len(about_patients) >= 5
    values = {
        "clinic_id": clinic.id,
        "patient_id": patient.id,
        "program": PROGRAM,
        "resource_type": "Patient",
        "resource_id": str(patient.id),
    }
    for name, template in sorted(about_patients.items()):
        names = PARAM.findall(template)
        assert set(names) <= set(values), f"{name}: no value for {names}; extend this test"
        path = template.format(**values)
        response = client.get(path, headers=clinic.owner.headers)
        assert response.status_code in (200, 202), f"{name}: {response.text}"
        latest = my_log(client, patient)[0]
        assert (latest["what"], latest["path"]) == (name, path), f"{name} was not logged"
        assert latest["clinic"]["id"] == clinic.id
        assert latest["actor"] == {
            "kind": "clinic_staff",
            "id": clinic.owner.id,
            "name": clinic.owner.email.split("@")[0],
        }
    assert len(my_log(client, patient, limit=100)) == len(about_patients)


def test_the_patient_list_logs_each_patient_it_shows(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    first, second, third = (make_linked_patient(clinic) for _ in range(3))
    listed = client.get(clinic.path("/patients"), headers=clinic.owner.headers, params={"limit": 2})
    shown = {p["id"] for p in listed.json()["items"]}
    assert len(shown) == 2
    for patient in (first, second, third):
        logged = [e for e in my_log(client, patient) if e["what"] == "list_patients"]
        assert len(logged) == (1 if patient.id in shown else 0)


def test_reads_by_an_api_client_and_an_admin_say_who_they_were(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    make_person: PersonFactory,
) -> None:
    patient = make_linked_patient(clinic)
    system = api_client_token(client, clinic, ["patients:read"])
    assert client.get(clinic.path(f"/patients/{patient.id}"), headers=system).status_code == 200
    admin = make_person(Role.ADMIN)
    assert (
        client.get(clinic.path(f"/patients/{patient.id}"), headers=admin.headers).status_code == 200
    )

    by_admin, by_client = my_log(client, patient)
    assert by_client["actor"]["kind"] == "api_client"
    assert by_client["actor"]["name"]
    assert by_admin["actor"] == {
        "kind": "administrator",
        "id": admin.id,
        "name": admin.email.split("@")[0],
    }


def test_a_patient_sees_only_reads_of_their_own_data(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    read, unread = make_linked_patient(clinic), make_linked_patient(clinic)
    client.get(clinic.path(f"/patients/{read.id}/sessions"), headers=clinic.owner.headers)
    assert [e["patient"]["id"] for e in my_log(client, read)] == [read.id]
    assert my_log(client, unread) == []
    # Their own reads of their own data are not "access by a clinic".
    client.get("/v1/me/sessions", headers=unread.headers)
    assert my_log(client, unread) == []


def test_owners_read_their_clinics_log_and_nobody_else_does(
    client: TestClient,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
    make_person: PersonFactory,
) -> None:
    clinic, other = make_clinic("Hips"), make_clinic("Knees")
    first, second = make_linked_patient(clinic), make_linked_patient(clinic)
    clinician = make_person()
    add_staff(client, clinic.id, clinic.owner.headers, clinician)
    for patient in (first, second):
        client.get(clinic.path(f"/patients/{patient.id}"), headers=clinician.headers)
    log_of(client).flush()

    everything = client.get(clinic.path("/access-log"), headers=clinic.owner.headers)
    assert everything.status_code == 200
    assert [e["patient"]["id"] for e in everything.json()["items"]] == [second.id, first.id]
    assert {e["actor"]["id"] for e in everything.json()["items"]} == {clinician.id}
    one = client.get(
        clinic.path("/access-log"), headers=clinic.owner.headers, params={"patient_id": first.id}
    )
    assert [e["patient"]["id"] for e in one.json()["items"]] == [first.id]

    assert client.get(clinic.path("/access-log"), headers=clinician.headers).status_code == 403
    system = api_client_token(client, clinic, ["patients:read"])
    assert client.get(clinic.path("/access-log"), headers=system).status_code == 403
    assert client.get(clinic.path("/access-log"), headers=other.owner.headers).status_code == 404
    assert client.get(other.path("/access-log"), headers=other.owner.headers).json()["items"] == []


def test_reads_are_written_in_the_background_within_moments(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    database: Database,
) -> None:
    patient = make_linked_patient(clinic)
    client.get(clinic.path(f"/patients/{patient.id}"), headers=clinic.owner.headers)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with database.read_session() as session:
            if session.exec(select(AccessRecord)).first() is not None:
                return
        time.sleep(0.05)
    raise AssertionError("the read was not written within 5 s")


def test_a_read_of_a_patient_erased_before_the_write_leaves_nothing_and_breaks_nothing(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    make_person: PersonFactory,
) -> None:
    erased, kept = make_linked_patient(clinic), make_linked_patient(clinic)
    clinician = make_person()
    add_staff(client, clinic.id, clinic.owner.headers, clinician)
    log_of(client).flush()
    for patient in (erased, kept):
        client.get(clinic.path(f"/patients/{patient.id}"), headers=clinician.headers)
    # Both leave before the batch is written: the patient, and the staff member who read.
    for person in (erased, clinician):
        gone = client.request("DELETE", "/v1/me", headers=person.headers, json={})
        assert gone.status_code == 204, gone.text

    [entry] = my_log(client, kept)
    assert entry["actor"] == {"kind": "erased", "id": None, "name": "erased account"}


def test_records_older_than_the_retention_period_are_removed(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    client.get(clinic.path(f"/patients/{patient.id}"), headers=clinic.owner.headers)
    log = log_of(client)
    log.flush()
    assert log.prune(utcnow()) == 0
    assert len(my_log(client, patient)) == 1
    assert log.prune(utcnow() + log.retention + timedelta(seconds=1)) == 1
    assert my_log(client, patient) == []
