"""A clinician's work: the patient list and its summary, assigning programs, stage overrides;
API clients and their scopes; and the patient list's cost not growing with the patients."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from app.core.db import Database
from tests.conftest import ClinicSetup, LinkedPatientFactory, Person, PersonFactory, add_staff

pytestmark = pytest.mark.usefixtures("seeded")

WHOLE_LEG = "whole-leg-rehabilitation"  # five levels, max_pain 5
HIPS = "tight-hip-stretches"
LEVEL_1 = ["glute-bridge", "clamshell", "straight-leg-raise"]
ALL_SCOPES = ["patients:read", "programs:read", "programs:write", "webhooks:manage"]
PUBLIC_HOOK = "https://93.184.216.34/hook"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def enroll(client: TestClient, person: Person, program: str = WHOLE_LEG) -> None:
    response = client.post("/v1/me/enrollments", headers=person.headers, json={"program": program})
    assert response.status_code == 201, response.text


def log_session(
    client: TestClient,
    person: Person,
    *,
    pain: int,
    at: datetime,
    stage: int = 1,
    exercises: list[str] | None = None,
    program: str = WHOLE_LEG,
) -> Any:
    return client.put(
        f"/v1/me/sessions/{uuid.uuid4()}",
        headers=person.headers,
        json={
            "program": program,
            "stage": stage,
            "performed_at": at.isoformat(),
            "entries": [
                {
                    "exercise": slug,
                    "sets_done": 2,
                    "reps_done": 10,
                    "difficulty": "moderate",
                    "pain": pain,
                }
                for slug in exercises or LEVEL_1
            ],
        },
    )


def logged(client: TestClient, person: Person, *, pain: int, at: datetime) -> None:
    response = log_session(client, person, pain=pain, at=at)
    assert response.status_code == 201, response.text


def add_clinician(client: TestClient, clinic: ClinicSetup, person: Person) -> None:
    add_staff(client, clinic.id, clinic.owner.headers, person)


def patients_page(
    client: TestClient, clinic: ClinicSetup, query: str = "", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = client.get(clinic.path(f"/patients{query}"), headers=headers or clinic.owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-cache"
    page: dict[str, Any] = response.json()
    return page


def stage_accesses(client: TestClient, person: Person, program: str = WHOLE_LEG) -> list[str]:
    detail = client.get(f"/v1/programs/{program}", headers=person.headers).json()
    return [stage["exercises"][0]["exercise"]["access"] for stage in detail["stages"]]


# ---------------------------------------------------------------------------
# The patient list


@pytest.fixture
def cohort(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> dict[str, Person]:
    """Four patients: in pain, inactive with an old session, never active, not enrolled."""
    people = {name: make_linked_patient(clinic) for name in ("sore", "lapsed", "idle", "new")}
    for name in ("sore", "lapsed", "idle"):
        enroll(client, people[name])
    return people


def test_the_patient_list_summarises_programs_adherence_pain_and_flags(
    client: TestClient, clinic: ClinicSetup, cohort: dict[str, Person]
) -> None:
    sore, lapsed = cohort["sore"], cohort["lapsed"]
    painful_at, latest_at, old_at = (
        now() - timedelta(days=2),
        now() - timedelta(hours=1),
        now() - timedelta(days=10),
    )
    logged(client, sore, pain=6, at=painful_at)  # at or above the stage's max_pain of 5
    logged(client, sore, pain=2, at=latest_at)
    logged(client, lapsed, pain=1, at=old_at)

    page = patients_page(client, clinic)
    assert page["total"] == 4
    by_id = {patient["id"]: patient for patient in page["items"]}
    assert set(by_id) == {person.id for person in cohort.values()}

    summary = by_id[sore.id]
    assert summary["email"] == sore.email
    assert summary["display_name"] == sore.email.split("@")[0]
    assert [
        {key: value for key, value in program.items() if key != "adherence"}
        for program in summary["programs"]
    ] == [
        {
            "program": WHOLE_LEG,
            "stage": 1,
            "stage_name": "Level 1",
            "completed": False,
            "sessions_last_7_days": 2,
            "pain_hold": True,
        }
    ]
    assert summary["sessions_last_7_days"] == 2
    assert summary["latest_pain"]["value"] == 2  # the latest session, not the worst one
    assert datetime.fromisoformat(summary["latest_pain"]["at"]) == latest_at
    assert summary["pain_hold"] is True
    assert summary["inactive"] is False

    old = by_id[lapsed.id]
    assert old["sessions_last_7_days"] == 0
    assert old["programs"][0]["sessions_last_7_days"] == 0
    assert old["latest_pain"]["value"] == 1
    assert datetime.fromisoformat(old["latest_pain"]["at"]) == old_at
    assert (old["pain_hold"], old["inactive"]) == (False, True)

    idle = by_id[cohort["idle"].id]
    assert idle["latest_pain"] is None
    assert (idle["pain_hold"], idle["inactive"]) == (False, True)
    assert [p["program"] for p in idle["programs"]] == [WHOLE_LEG]

    new = by_id[cohort["new"].id]
    assert new["programs"] == []
    assert (new["sessions_last_7_days"], new["latest_pain"], new["inactive"]) == (0, None, True)

    # One patient's summary says the same as the list.
    detail = client.get(clinic.path(f"/patients/{sore.id}"), headers=clinic.owner.headers)
    assert detail.status_code == 200
    assert detail.json() == summary


def test_the_patient_list_filters_by_flag(
    client: TestClient, clinic: ClinicSetup, cohort: dict[str, Person]
) -> None:
    logged(client, cohort["sore"], pain=7, at=now() - timedelta(hours=3))
    logged(client, cohort["lapsed"], pain=0, at=now() - timedelta(hours=2))

    held = patients_page(client, clinic, "?flag=pain_hold")
    assert [p["id"] for p in held["items"]] == [cohort["sore"].id]
    assert held["total"] == 1

    inactive = patients_page(client, clinic, "?flag=inactive")
    assert {p["id"] for p in inactive["items"]} == {cohort["idle"].id, cohort["new"].id}
    assert inactive["total"] == 2
    assert all(p["inactive"] for p in inactive["items"])

    unknown = client.get(clinic.path("/patients?flag=vip"), headers=clinic.owner.headers)
    assert unknown.status_code == 422


def test_the_patient_list_is_paginated(
    client: TestClient, clinic: ClinicSetup, cohort: dict[str, Person]
) -> None:
    first = patients_page(client, clinic, "?limit=3")
    assert (len(first["items"]), first["total"], first["limit"], first["offset"]) == (3, 4, 3, 0)
    rest = patients_page(client, clinic, "?limit=3&offset=3")
    assert (len(rest["items"]), rest["total"], rest["limit"], rest["offset"]) == (1, 4, 3, 3)
    seen = [p["id"] for p in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(person.id for person in cohort.values())
    assert patients_page(client, clinic, "?offset=4")["items"] == []
    default = patients_page(client, clinic)
    assert (default["limit"], default["offset"]) == (20, 0)
    for bad in ("?limit=0", "?limit=101", "?offset=-1"):
        response = client.get(clinic.path(f"/patients{bad}"), headers=clinic.owner.headers)
        assert response.status_code == 422, bad


def test_a_patients_sessions_and_progress_are_readable_by_the_clinic(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    enroll(client, patient)
    logged(client, patient, pain=3, at=now() - timedelta(hours=1))
    headers = clinic.owner.headers
    sessions = client.get(clinic.path(f"/patients/{patient.id}/sessions"), headers=headers)
    assert sessions.status_code == 200
    mine = client.get("/v1/me/sessions", headers=patient.headers).json()
    assert [s["id"] for s in sessions.json()["items"]] == [s["id"] for s in mine["items"]]
    progress = client.get(clinic.path(f"/patients/{patient.id}/progress"), headers=headers)
    assert progress.status_code == 200
    programs = progress.json()["programs"]
    assert [(p["program"], p["sessions_last_7_days"]) for p in programs] == [(WHOLE_LEG, 1)]
    enrollments = client.get(clinic.path(f"/patients/{patient.id}/enrollments"), headers=headers)
    assert [e["program"] for e in enrollments.json()] == [WHOLE_LEG]


# ---------------------------------------------------------------------------
# Assigning programs and overriding stages


@pytest.fixture
def clinician(client: TestClient, clinic: ClinicSetup, make_person: PersonFactory) -> Person:
    """A member of the clinic who is not an owner."""
    person = make_person()
    add_clinician(client, clinic, person)
    return person


def test_a_clinician_assigns_a_program_and_the_patient_follows_it(
    client: TestClient,
    clinic: ClinicSetup,
    clinician: Person,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    patient = make_linked_patient(clinic)
    path = clinic.path(f"/patients/{patient.id}/enrollments")
    assigned = client.post(path, headers=clinician.headers, json={"program": HIPS})
    assert assigned.status_code == 201, assigned.text
    body = assigned.json()
    assert body["program"] == HIPS
    assert body["assigned_by"] == clinician.id
    assert body["current_stage"]["position"] == 1
    assert [
        (h["from_stage"], h["to_stage"], h["reason"], h["changed_by"]) for h in body["history"]
    ] == [(None, 1, "enrolled", clinician.id)]

    mine = client.get("/v1/me/enrollments", headers=patient.headers)
    assert mine.status_code == 200
    items = mine.json()["items"]
    assert [(e["program"], e["assigned_by"]) for e in items] == [(HIPS, clinician.id)]
    own = client.get(f"/v1/me/enrollments/{HIPS}", headers=patient.headers).json()
    assert own["history"] == body["history"]
    seen = client.get(path, headers=clinic.owner.headers).json()
    assert [(e["program"], e["assigned_by"]) for e in seen] == [(HIPS, clinician.id)]

    again = client.post(path, headers=clinician.headers, json={"program": HIPS})
    assert again.status_code == 409
    assert client.get("/v1/me/enrollments", headers=patient.headers).json()["total"] == 1
    missing = client.post(path, headers=clinician.headers, json={"program": "no-such-program"})
    assert missing.status_code == 404


def test_assigning_a_program_the_patient_chose_themselves_is_a_409(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    enroll(client, patient, HIPS)
    response = client.post(
        clinic.path(f"/patients/{patient.id}/enrollments"),
        headers=clinic.owner.headers,
        json={"program": HIPS},
    )
    assert response.status_code == 409
    mine = client.get("/v1/me/enrollments", headers=patient.headers).json()["items"]
    assert [(e["program"], e["assigned_by"]) for e in mine] == [(HIPS, None)]


def test_an_assignment_by_an_api_client_is_not_recorded_as_the_patients_own(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    headers = client_headers(client, clinic, ["programs:write"])
    assigned = client.post(
        clinic.path(f"/patients/{patient.id}/enrollments"), headers=headers, json={"program": HIPS}
    )
    assert assigned.status_code == 201, assigned.text
    body = assigned.json()
    assert body["assigned_by"] is None  # no person assigned it
    assert body["history"][0]["changed_by"] != patient.id


def test_a_stage_override_is_recorded_with_its_reason_and_the_lock_follows(
    client: TestClient,
    clinic: ClinicSetup,
    clinician: Person,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    patient = make_linked_patient(clinic)
    enroll(client, patient)
    assert stage_accesses(client, patient) == ["unlocked"] + ["locked"] * 4
    ahead = log_session(client, patient, pain=0, at=now(), stage=3, exercises=["glute-bridge"])
    assert ahead.status_code == 409  # stage 3 is not reached yet

    path = clinic.path(f"/patients/{patient.id}/enrollments/{WHOLE_LEG}/stage")
    reason = "Strong enough after the assessment; skipping ahead."
    response = client.put(path, headers=clinician.headers, json={"stage": 3, "reason": reason})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["current_stage"] == {"position": 3, "name": "Level 3"}
    last = body["history"][-1]
    assert (last["from_stage"], last["to_stage"]) == (1, 3)
    assert last["reason"] == "clinician"
    assert last["note"] == reason
    assert last["changed_by"] == clinician.id
    assert body["evaluation"]["criteria"][0]["current"] == 0  # the stage clock restarts

    # At once, for the patient: the stages up to 3 open and the history shows why.
    assert stage_accesses(client, patient) == ["unlocked"] * 3 + ["locked"] * 2
    own = client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=patient.headers).json()
    assert own["current_stage"]["position"] == 3
    assert own["history"][-1] == last
    ahead = log_session(client, patient, pain=0, at=now(), stage=3, exercises=["glute-bridge"])
    assert ahead.status_code == 201, ahead.text

    # And back down: the lock follows that way too.
    down = client.put(path, headers=clinician.headers, json={"stage": 2, "reason": "Too soon."})
    assert down.status_code == 200
    assert stage_accesses(client, patient) == ["unlocked"] * 2 + ["locked"] * 3
    assert [h["to_stage"] for h in down.json()["history"]] == [1, 3, 2]


@pytest.mark.parametrize(
    "body",
    [
        {"stage": 6, "reason": "Beyond the last level."},
        {"stage": 0, "reason": "Before the first."},
        {"stage": 51, "reason": "Far beyond."},
        {"stage": 2, "reason": ""},
        {"stage": 2},
        {"stage": "2", "reason": "A string."},
    ],
)
def test_an_invalid_stage_override_is_a_422_and_changes_nothing(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    body: dict[str, Any],
) -> None:
    patient = make_linked_patient(clinic)
    enroll(client, patient)
    response = client.put(
        clinic.path(f"/patients/{patient.id}/enrollments/{WHOLE_LEG}/stage"),
        headers=clinic.owner.headers,
        json=body,
    )
    assert response.status_code == 422, response.text
    own = client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=patient.headers).json()
    assert own["current_stage"]["position"] == 1
    assert len(own["history"]) == 1


def test_a_stage_override_needs_an_enrollment_in_that_program(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    enroll(client, patient)
    for program in (HIPS, "no-such-program"):
        response = client.put(
            clinic.path(f"/patients/{patient.id}/enrollments/{program}/stage"),
            headers=clinic.owner.headers,
            json={"stage": 1, "reason": "Start here."},
        )
        assert response.status_code == 404, program


# ---------------------------------------------------------------------------
# API clients


def create_client(client: TestClient, clinic: ClinicSetup, scopes: list[str]) -> dict[str, Any]:
    response = client.post(
        clinic.path("/api-clients"),
        headers=clinic.owner.headers,
        json={"name": "Practice system", "scopes": scopes},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def token_response(client: TestClient, credentials: dict[str, Any], **extra: str) -> Any:
    return client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            **extra,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_headers(client: TestClient, clinic: ClinicSetup, scopes: list[str]) -> dict[str, str]:
    response = token_response(client, create_client(client, clinic, scopes))
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def test_a_client_token_is_short_bound_to_its_clinic_and_scopes(
    client: TestClient, clinic: ClinicSetup
) -> None:
    credentials = create_client(client, clinic, ["patients:read", "programs:write"])
    assert credentials["client_id"].startswith("rc_")
    assert sorted(credentials["scopes"]) == ["patients:read", "programs:write"]
    response = token_response(client, credentials)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    body = response.json()
    assert body["expires_in"] == 15 * 60
    assert body.get("refresh_token") is None
    claims = claims_of(body["access_token"])
    assert claims["typ"] == "client"
    assert claims["cid"] == clinic.id
    assert claims["sub"] == f"client:{credentials['id']}"
    assert sorted(claims["scope"].split()) == ["patients:read", "programs:write"]
    assert claims["exp"] - claims["iat"] == 15 * 60
    # The listing never shows the secret again.
    listed = client.get(clinic.path("/api-clients"), headers=clinic.owner.headers).json()
    assert [c["client_id"] for c in listed] == [credentials["client_id"]]
    assert "client_secret" not in listed[0]
    assert credentials["client_secret"] not in json.dumps(listed)


def test_each_route_needs_its_scope(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    enroll(client, patient)
    reader = client_headers(client, clinic, ["patients:read"])
    writer = client_headers(client, clinic, ["programs:write"])
    hooks = client_headers(client, clinic, ["webhooks:manage"])
    base = f"/patients/{patient.id}"
    assign = (base + "/enrollments", {"program": HIPS})
    stage = (f"{base}/enrollments/{WHOLE_LEG}/stage", {"stage": 2, "reason": "Ready."})
    webhook = {"url": PUBLIC_HOOK, "event_types": ["pain.reported"]}

    def status(headers: dict[str, str], method: str, suffix: str, body: Any = None) -> int:
        return client.request(method, clinic.path(suffix), headers=headers, json=body).status_code

    # patients:read reads, and nothing else
    for suffix in (
        "/patients",
        base,
        base + "/enrollments",
        base + "/sessions",
        base + "/progress",
    ):
        assert status(reader, "GET", suffix) == 200, suffix
        assert status(writer, "GET", suffix) == 403, suffix
        assert status(hooks, "GET", suffix) == 403, suffix
    assert status(reader, "POST", *assign) == 403
    assert status(reader, "PUT", *stage) == 403
    assert status(reader, "GET", "/webhooks") == 403
    assert status(reader, "POST", "/webhooks", webhook) == 403
    # programs:write assigns and sets stages
    assert status(hooks, "POST", *assign) == 403
    assert status(hooks, "PUT", *stage) == 403
    assert status(writer, "POST", *assign) == 201
    assert status(writer, "PUT", *stage) == 200
    assert status(writer, "GET", "/webhooks") == 403
    # webhooks:manage manages webhooks
    assert status(hooks, "POST", "/webhooks", webhook) == 201
    assert status(hooks, "GET", "/webhooks") == 200
    # What the refused calls would have done, did not happen.
    mine = client.get("/v1/me/enrollments", headers=patient.headers).json()["items"]
    assert sorted(e["program"] for e in mine) == sorted([WHOLE_LEG, HIPS])


def test_a_token_asking_for_fewer_scopes_gets_only_those(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    credentials = create_client(client, clinic, ALL_SCOPES)
    narrow = token_response(client, credentials, scope="patients:read")
    assert narrow.status_code == 200, narrow.text
    headers = bearer(narrow.json()["access_token"])
    assert client.get(clinic.path("/patients"), headers=headers).status_code == 200
    assigned = client.post(
        clinic.path(f"/patients/{patient.id}/enrollments"), headers=headers, json={"program": HIPS}
    )
    assert assigned.status_code == 403
    assert client.get(clinic.path("/webhooks"), headers=headers).status_code == 403


def test_asking_for_a_scope_the_client_lacks_is_invalid_scope(
    client: TestClient, clinic: ClinicSetup
) -> None:
    credentials = create_client(client, clinic, ["patients:read"])
    for scope in ("patients:read programs:write", "webhooks:manage", "admin"):
        response = token_response(client, credentials, scope=scope)
        assert response.status_code == 400, scope
        assert response.json()["error"] == "invalid_scope"
        assert "access_token" not in response.json()


def test_a_wrong_secret_or_unknown_client_is_invalid_client(
    client: TestClient, clinic: ClinicSetup
) -> None:
    credentials = create_client(client, clinic, ["patients:read"])
    wrong = token_response(
        client, {**credentials, "client_secret": credentials["client_secret"] + "x"}
    )
    unknown = token_response(client, {**credentials, "client_id": "rc_" + "0" * 24})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "access_token" not in response.json()
    assert wrong.json()["detail"] == unknown.json()["detail"]
    missing = client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": credentials["client_id"]},
    )
    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_client"


def test_http_basic_client_authentication_works(client: TestClient, clinic: ClinicSetup) -> None:
    credentials = create_client(client, clinic, ["patients:read"])
    pair = f"{quote(credentials['client_id'])}:{quote(credentials['client_secret'])}"
    basic = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    response = client.post(
        "/v1/auth/token", headers=basic, data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200, response.text
    headers = bearer(response.json()["access_token"])
    assert client.get(clinic.path("/patients"), headers=headers).status_code == 200
    bad_pair = f"{credentials['client_id']}:not-the-secret"
    bad = {"Authorization": "Basic " + base64.b64encode(bad_pair.encode()).decode()}
    refused = client.post("/v1/auth/token", headers=bad, data={"grant_type": "client_credentials"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_a_revoked_clients_token_stops_working_at_once(
    client: TestClient, clinic: ClinicSetup
) -> None:
    credentials = create_client(client, clinic, ["patients:read"])
    token = token_response(client, credentials).json()["access_token"]
    assert client.get(clinic.path("/patients"), headers=bearer(token)).status_code == 200
    revoked = client.delete(
        clinic.path(f"/api-clients/{credentials['id']}"), headers=clinic.owner.headers
    )
    assert revoked.status_code == 204
    refused = client.get(clinic.path("/patients"), headers=bearer(token))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    again = token_response(client, credentials)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
    listed = client.get(clinic.path("/api-clients"), headers=clinic.owner.headers).json()
    assert listed[0]["revoked_at"] is not None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/me", None),
        ("PATCH", "/v1/me", {"display_name": "Robot"}),
        ("GET", "/v1/me/enrollments", None),
        ("POST", "/v1/me/enrollments", {"program": HIPS}),
        ("GET", "/v1/me/sessions", None),
        ("GET", "/v1/me/clinic-links", None),
        ("POST", "/v1/me/clinic-links", {"code": "ABCDE-FGHJK"}),
        ("GET", "/v1/clinics", None),
        ("POST", "/v1/clinics", {"name": "Robot clinic"}),
        ("POST", "/v1/auth/logout", None),
    ],
)
def test_a_client_token_can_never_act_as_a_user(
    client: TestClient, clinic: ClinicSetup, method: str, path: str, body: Any
) -> None:
    headers = client_headers(client, clinic, ALL_SCOPES)
    response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_users_token_is_not_taken_for_a_client_token(
    client: TestClient, clinic: ClinicSetup, member: Person
) -> None:
    """A refresh token (or anything but an access or client token) opens nothing."""
    refresh = bearer(clinic.owner.refresh_token)
    assert client.get(clinic.path("/patients"), headers=refresh).status_code == 401
    assert client.get(clinic.path("/patients"), headers=member.headers).status_code == 404


def test_client_secrets_are_stored_only_as_hashes(
    client: TestClient, clinic: ClinicSetup, database: Database
) -> None:
    secrets = [create_client(client, clinic, ALL_SCOPES)["client_secret"] for _ in range(2)]
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_client")).all()
    assert len(rows) == 2
    stored = " ".join(str(value) for row in rows for value in row)
    for secret in secrets:
        assert len(secret) >= 32
        assert secret not in stored


# ---------------------------------------------------------------------------
# Cost


# Threads beside the request touch the same engine whenever they are due: the access log's
# writer, the content version check and the outbox. They are not the request's cost.
BACKGROUND_TABLES = ("access_record", "content_version", "outbox_message")


@contextmanager
def counting_statements(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]
        if statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            return
        if any(table in statement for table in BACKGROUND_TABLES):
            return
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def active_patient(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory, pain: int
) -> Person:
    patient = make_linked_patient(clinic)
    enroll(client, patient)
    logged(client, patient, pain=pain, at=now() - timedelta(days=1))
    logged(client, patient, pain=pain // 2, at=now() - timedelta(hours=2))
    return patient


def list_statements(client: TestClient, clinic: ClinicSetup, database: Database) -> int:
    patients_page(client, clinic)  # warm: the catalogue snapshot is built
    with counting_statements(database) as statements:
        page = patients_page(client, clinic)
    assert all(p["programs"] for p in page["items"])
    return len(statements)


def test_the_patient_list_costs_the_same_for_2_or_8_patients(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    database: Database,
) -> None:
    for pain in (1, 6):
        active_patient(client, clinic, make_linked_patient, pain)
    small = list_statements(client, clinic, database)
    for pain in range(6):
        active_patient(client, clinic, make_linked_patient, pain)
    assert patients_page(client, clinic)["total"] == 8
    large = list_statements(client, clinic, database)
    assert small == large
    assert large <= 15
