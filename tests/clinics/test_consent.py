"""Consent: invitation codes (single use, expiring, unguessable, normalised, hashed,
rate-limited) and withdrawal, which the clinic feels on its very next request."""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlmodel import col

from app.clinics import service
from app.clinics.models import PatientInvitation
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.conftest import (
    TEST_SECRET,
    ClinicFactory,
    ClinicSetup,
    LinkedPatientFactory,
    Person,
    PersonFactory,
    api_client_token,
    invite,
)

ENROLLED = "whole-leg-rehabilitation"
ASSIGNABLE = "tight-hip-stretches"
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")  # Crockford base32
NOT_VALID = "This code is not valid (it may have expired or been used)."


def redeem(client: TestClient, patient: Person, code: str) -> Any:
    return client.post("/v1/me/clinic-links", headers=patient.headers, json={"code": code})


def links(client: TestClient, patient: Person) -> list[dict[str, Any]]:
    response = client.get("/v1/me/clinic-links", headers=patient.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def patient_ids(client: TestClient, clinic: ClinicSetup) -> list[int]:
    response = client.get(clinic.path("/patients"), headers=clinic.owner.headers)
    assert response.status_code == 200, response.text
    return [patient["id"] for patient in response.json()["items"]]


def refusal(response: Any) -> tuple[int, str, str, str]:
    body = response.json()
    return response.status_code, body["type"], body["detail"], repr(body.get("errors"))


def invite_containing(client: TestClient, clinic: ClinicSetup, wanted: str) -> str:
    """A fresh code that has the character `wanted` in it (codes are random)."""
    for _ in range(300):
        code = invite(client, clinic)
        if wanted in code:
            return code
    pytest.fail(f"no code with {wanted!r} in 300 invitations")


# ---------------------------------------------------------------------------
# Invitation codes


def test_a_code_works_once(
    client: TestClient, clinic: ClinicSetup, make_person: PersonFactory
) -> None:
    code = invite(client, clinic)
    first, second = make_person(), make_person()
    linked = redeem(client, first, code)
    assert linked.status_code == 201, linked.text
    assert linked.json()["clinic_id"] == clinic.id
    again = redeem(client, second, code)
    assert again.status_code == 422
    assert refusal(again)[2] == NOT_VALID
    assert links(client, second) == []
    assert patient_ids(client, clinic) == [first.id]
    # The first patient cannot spend it a second time either.
    assert redeem(client, first, code).status_code == 422
    invitations = client.get(clinic.path("/invitations"), headers=clinic.owner.headers).json()
    assert len(invitations) == 1
    assert invitations[0]["redeemed_at"] is not None
    assert "code" not in invitations[0]


def expire(database: Database, invitation_id: int) -> None:
    with database.write_session() as session:
        session.execute(
            update(PatientInvitation)
            .where(col(PatientInvitation.id) == invitation_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )


def test_an_expired_code_is_refused(
    client: TestClient, clinic: ClinicSetup, member: Person, database: Database
) -> None:
    created = client.post(clinic.path("/invitations"), headers=clinic.owner.headers)
    assert created.status_code == 201
    body = created.json()
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
        body["created_at"]
    )
    assert lifetime == timedelta(days=7)  # INVITATION_DAYS
    expire(database, body["id"])
    response = redeem(client, member, body["code"])
    assert response.status_code == 422
    assert refusal(response)[2] == NOT_VALID
    assert links(client, member) == []
    assert patient_ids(client, clinic) == []


def test_unknown_used_and_expired_codes_get_the_same_answer(
    client: TestClient,
    clinic: ClinicSetup,
    make_person: PersonFactory,
    database: Database,
) -> None:
    patient, guesser = make_person(), make_person()
    used = invite(client, clinic)
    assert redeem(client, patient, used).status_code == 201
    expired = client.post(clinic.path("/invitations"), headers=clinic.owner.headers).json()
    expire(database, expired["id"])
    answers = {
        "used": refusal(redeem(client, guesser, used)),
        "expired": refusal(redeem(client, guesser, expired["code"])),
        "guessed": refusal(redeem(client, guesser, "ABCDE-FGHJK")),
        "garbage": refusal(redeem(client, guesser, "not a code at all")),
    }
    assert answers["used"][0] == 422
    assert len(set(answers.values())) == 1, answers
    assert links(client, guesser) == []


def test_codes_are_ten_crockford_characters_with_50_bits_and_do_not_repeat(
    client: TestClient, clinic: ClinicSetup
) -> None:
    codes = [invite(client, clinic) for _ in range(25)]
    for code in codes:
        assert CODE.fullmatch(code), code
    assert len(set(codes)) == len(codes)
    alphabet = service.CODE_ALPHABET
    assert len(set(alphabet)) == 32
    assert not set(alphabet) & set("ILOU")
    assert service.CODE_LENGTH * math.log2(len(alphabet)) >= 50


NORMALISED: list[tuple[str, str, Callable[[str], str]]] = [
    ("lowercase", "", str.lower),
    ("without the dash", "", lambda code: code.replace("-", "")),
    ("with spaces", "", lambda code: f"  {code[:3]} {code[3:]} ".replace("-", " ")),
    ("O for zero", "0", lambda code: code.replace("0", "O")),
    ("lowercase o for zero", "0", lambda code: code.replace("0", "o").lower()),
    ("I for one", "1", lambda code: code.replace("1", "I")),
    ("l for one", "1", lambda code: code.replace("1", "l")),
]


@pytest.mark.parametrize(
    ("wanted", "transform"),
    [(wanted, transform) for _, wanted, transform in NORMALISED],
    ids=[name for name, _, _ in NORMALISED],
)
def test_codes_are_normalised_as_people_type_them(
    client: TestClient,
    clinic: ClinicSetup,
    member: Person,
    wanted: str,
    transform: Callable[[str], str],
) -> None:
    code = invite_containing(client, clinic, wanted)
    typed = transform(code)
    assert typed != code
    response = redeem(client, member, typed)
    assert response.status_code == 201, response.text
    assert [link["clinic_id"] for link in links(client, member)] == [clinic.id]


def test_codes_are_stored_only_as_hashes(
    client: TestClient, clinic: ClinicSetup, database: Database
) -> None:
    codes = [invite(client, clinic) for _ in range(3)]
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM patient_invitation")).all()
    assert len(rows) == 3
    stored = " ".join(str(value) for row in rows for value in row).upper()
    for code in codes:
        assert code.upper() not in stored
        assert code.replace("-", "").upper() not in stored


def test_a_copy_of_the_table_alone_cannot_be_used_to_try_codes(
    client: TestClient, clinic: ClinicSetup, database: Database
) -> None:
    """The hash is keyed with the service's secret: hashing a guessed code without it finds
    nothing (a plain SHA-256 let a leaked table be brute-forced within the code's week)."""
    code = invite(client, clinic)
    with database.engine.connect() as connection:
        [stored] = connection.execute(text("SELECT code_hash FROM patient_invitation")).scalars()
    plain = service.normalize_code(code)
    assert stored != hashlib.sha256(plain.encode()).hexdigest()
    assert stored == service.CodeHasher.from_secret(TEST_SECRET.encode()).digest(code)


def test_redeeming_is_rate_limited_per_account(
    settings: Settings,
    database: Database,
    make_clinic: ClinicFactory,
    make_person: PersonFactory,
    client: TestClient,
) -> None:
    clinic = make_clinic()
    guesser, other = make_person(), make_person()
    real = invite(client, clinic)
    limited = settings.model_copy(update={"redeem_rate_per_account": "3/minute"})
    with TestClient(create_app(limited, database=database)) as strict:
        for attempt in range(3):
            response = redeem(strict, guesser, f"ZZZZZ-ZZZZ{attempt}")
            assert response.status_code == 422, response.text
        blocked = redeem(strict, guesser, real)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        assert blocked.headers["content-type"] == "application/problem+json"
        # The blocked attempt did not spend the code nor link anyone...
        assert links(strict, guesser) == []
        # ...and another account is not held back by the guesser.
        assert redeem(strict, other, real).status_code == 201
    assert patient_ids(client, clinic) == [other.id]


# ---------------------------------------------------------------------------
# Withdrawal


def log_session(client: TestClient, patient: Person, pain: int = 1) -> str:
    session_id = str(uuid.uuid4())
    response = client.put(
        f"/v1/me/sessions/{session_id}",
        headers=patient.headers,
        json={
            "program": ENROLLED,
            "stage": 1,
            "performed_at": datetime.now(UTC).isoformat(),
            "entries": [
                {
                    "exercise": "glute-bridge",
                    "sets_done": 2,
                    "reps_done": 10,
                    "difficulty": "easy",
                    "pain": pain,
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    return session_id


def clinic_view(client: TestClient, clinic: ClinicSetup, patient_id: int) -> dict[str, int]:
    """What the clinic's owner gets for each of the patient's routes."""
    headers = clinic.owner.headers
    base = f"/patients/{patient_id}"
    statuses = {
        suffix or "/": client.get(clinic.path(base + suffix), headers=headers).status_code
        for suffix in ("", "/enrollments", "/sessions", "/progress")
    }
    statuses["assign"] = client.post(
        clinic.path(base + "/enrollments"), headers=headers, json={"program": ASSIGNABLE}
    ).status_code
    statuses["stage"] = client.put(
        clinic.path(f"{base}/enrollments/{ENROLLED}/stage"),
        headers=headers,
        json={"stage": 1, "reason": "Back to basics."},
    ).status_code
    return statuses


@pytest.mark.usefixtures("seeded")
def test_withdrawing_consent_hides_the_patient_from_the_clinic_at_once(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    patient, other = make_linked_patient(clinic), make_linked_patient(clinic)
    enrolled = client.post(
        "/v1/me/enrollments", headers=patient.headers, json={"program": ENROLLED}
    )
    assert enrolled.status_code == 201
    session_id = log_session(client, patient)
    sessions = client.get(
        clinic.path(f"/patients/{patient.id}/sessions"), headers=clinic.owner.headers
    )
    assert [item["id"] for item in sessions.json()["items"]] == [session_id]

    withdrawn = client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert withdrawn.status_code == 204

    assert patient_ids(client, clinic) == [other.id]
    assert clinic_view(client, clinic, patient.id) == {
        "/": 404,
        "/enrollments": 404,
        "/sessions": 404,
        "/progress": 404,
        "assign": 404,
        "stage": 404,
    }
    # The patient's own data is untouched: the refused assignment did nothing either.
    own_sessions = client.get("/v1/me/sessions", headers=patient.headers).json()
    assert [item["id"] for item in own_sessions["items"]] == [session_id]
    own_enrollments = client.get("/v1/me/enrollments", headers=patient.headers).json()
    assert [e["program"] for e in own_enrollments["items"]] == [ENROLLED]
    assert links(client, patient) == []


@pytest.mark.usefixtures("seeded")
def test_withdrawal_also_shuts_out_the_clinics_api_client(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    headers = api_client_token(client, clinic, ["patients:read"])
    assert client.get(clinic.path(f"/patients/{patient.id}"), headers=headers).status_code == 200
    client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert client.get(clinic.path(f"/patients/{patient.id}"), headers=headers).status_code == 404
    assert client.get(clinic.path("/patients"), headers=headers).json()["total"] == 0


@pytest.mark.usefixtures("seeded")
def test_consenting_again_with_a_new_code_lets_the_clinic_see_the_patient_again(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    assert (
        client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers).status_code
        == 204
    )
    assert patient_ids(client, clinic) == []
    relinked = redeem(client, patient, invite(client, clinic))
    assert relinked.status_code == 201, relinked.text
    assert patient_ids(client, clinic) == [patient.id]
    detail = client.get(clinic.path(f"/patients/{patient.id}"), headers=clinic.owner.headers)
    assert detail.status_code == 200
    assert [link["clinic_id"] for link in links(client, patient)] == [clinic.id]
    # Linked already: a second code for the same clinic is a conflict, and is not spent.
    code = invite(client, clinic)
    assert redeem(client, patient, code).status_code == 409
    client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert redeem(client, patient, code).status_code == 201


def test_withdrawing_twice_is_a_404(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    path = f"/v1/me/clinic-links/{clinic.id}"
    assert client.delete(path, headers=patient.headers).status_code == 204
    assert client.delete(path, headers=patient.headers).status_code == 404
    # Withdrawing from a clinic one was never linked to is the same 404.
    assert client.delete("/v1/me/clinic-links/999999", headers=patient.headers).status_code == 404
    assert client.delete(path).status_code == 401


def test_the_link_list_shows_only_live_links(
    client: TestClient, make_clinic: ClinicFactory, make_person: PersonFactory
) -> None:
    first, second = make_clinic("Alder Clinic"), make_clinic("Birch Clinic")
    patient = make_person()
    for clinic in (first, second):
        assert redeem(client, patient, invite(client, clinic)).status_code == 201
    assert [(link["clinic_id"], link["clinic_name"]) for link in links(client, patient)] == [
        (first.id, "Alder Clinic"),
        (second.id, "Birch Clinic"),
    ]
    assert (
        client.delete(f"/v1/me/clinic-links/{first.id}", headers=patient.headers).status_code == 204
    )
    assert [link["clinic_id"] for link in links(client, patient)] == [second.id]
    assert patient_ids(client, first) == []
    assert patient_ids(client, second) == [patient.id]
    # Another person's links are their own.
    assert links(client, make_person()) == []
