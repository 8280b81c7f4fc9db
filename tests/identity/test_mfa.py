"""Two-step sign-in: an authenticator app (TOTP) and single-use recovery codes, and staff
held to it when MFA_REQUIRED_FOR_STAFF is on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import select

from app.access.policy import Role
from app.core.config import Settings
from app.core.db import Database
from app.identity.models import RecoveryCode, TotpFactor
from app.main import create_app
from app.outbox.models import OutboxMessage
from tests.conftest import ClinicSetup, Person, PersonFactory, add_staff, api_client_token

PASSWORD = "a sturdy passphrase 42"


@dataclass
class Enrolled:
    person: Person
    secret: str
    recovery_codes: list[str]

    def code(self) -> str:
        return pyotp.TOTP(self.secret).now()


def password_grant(client: TestClient, person: Person, **extra: str) -> Any:
    return client.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": person.email,
            "password": person.password,
            **extra,
        },
    )


def let_a_step_pass(database: Database) -> None:
    """As if 30 seconds went by: the code the app shows now has not been used yet."""
    with database.write_session() as session:
        session.execute(update(TotpFactor).values(last_step=0))


def start(client: TestClient, person: Person) -> str:
    started = client.post("/v1/me/mfa/totp", headers=person.headers, json={"password": PASSWORD})
    assert started.status_code == 201, started.text
    secret: str = started.json()["secret"]
    return secret


def enrol(client: TestClient, person: Person) -> Enrolled:
    secret = start(client, person)
    confirmed = client.post(
        "/v1/me/mfa/totp/confirm",
        headers=person.headers,
        json={"code": pyotp.TOTP(secret).now()},
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(person, secret, confirmed.json()["recovery_codes"])


def status_of(client: TestClient, person: Person) -> dict[str, Any]:
    response = client.get("/v1/me/mfa", headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------------------
# Enrolment


def test_enrolment_answers_a_qr_ready_uri_and_changes_nothing_until_confirmed(
    client: TestClient, member: Person
) -> None:
    wrong = client.post(
        "/v1/me/mfa/totp", headers=member.headers, json={"password": "not the password"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["pointer"] == "/password"

    started = client.post("/v1/me/mfa/totp", headers=member.headers, json={"password": PASSWORD})
    assert started.status_code == 201
    assert started.headers["cache-control"] == "private, no-store"
    uri = urlsplit(started.json()["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/Rehab API:{member.email}"
    query = parse_qs(uri.query)
    assert query["secret"] == [started.json()["secret"]]
    assert query["issuer"] == ["Rehab API"]

    assert status_of(client, member)["enabled"] is False
    # Unconfirmed, sign-in is as before.
    assert password_grant(client, member).status_code == 200


def test_confirming_with_a_code_from_the_app_turns_it_on_and_answers_ten_recovery_codes(
    client: TestClient, database: Database, member: Person
) -> None:
    secret = start(client, member)
    wrong = client.post("/v1/me/mfa/totp/confirm", headers=member.headers, json={"code": "000000"})
    if pyotp.TOTP(secret).verify("000000", valid_window=1):  # one chance in a third of a million
        pytest.skip("the app's code happens to be 000000")
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["type"] == "wrong_code"

    enrolled = Enrolled(member, secret, [])
    confirmed = client.post(
        "/v1/me/mfa/totp/confirm", headers=member.headers, json={"code": enrolled.code()}
    )
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10

    status = status_of(client, member)
    assert status["enabled"] is True
    assert status["recovery_codes_left"] == 10
    assert status["this_sign_in_verified"] is True
    # Kept as keyed hashes only: no code is in the table as sent.
    with database.read_session() as session:
        stored = set(session.exec(select(RecoveryCode.code_hash)))
    assert not stored & set(codes)
    # The owner is told by mail.
    with database.read_session() as session:
        told = session.exec(
            select(OutboxMessage).where(OutboxMessage.event_type == "second_factor")
        ).all()
    assert len(told) == 1
    assert told[0].payload["to"] == member.email


def test_a_second_enrolment_is_refused_while_one_is_on(client: TestClient, member: Person) -> None:
    enrol(client, member)
    again = client.post("/v1/me/mfa/totp", headers=member.headers, json={"password": PASSWORD})
    assert again.status_code == 409


# ---------------------------------------------------------------------------
# Signing in


def test_the_password_grant_asks_for_the_code_and_accepts_it_once(
    client: TestClient, database: Database, member: Person
) -> None:
    enrolled = enrol(client, member)
    let_a_step_pass(database)

    without = password_grant(client, member)
    assert without.status_code == 400
    assert without.json()["error"] == "mfa_required"
    assert without.json()["type"] == "/problems/mfa-required"

    wrong_code = password_grant(client, member, otp="12345678")
    assert wrong_code.status_code == 400
    assert wrong_code.json()["error"] == "invalid_grant"

    code = enrolled.code()
    assert password_grant(client, member, otp=code).status_code == 200
    replayed = password_grant(client, member, otp=code)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


def test_a_wrong_password_says_nothing_of_a_second_factor(
    client: TestClient, member: Person
) -> None:
    enrol(client, member)
    wrong = Person(member.id, member.email, "not the password", "", "")
    assert password_grant(client, wrong).json()["error"] == "invalid_grant"


def test_a_recovery_code_signs_in_once(client: TestClient, member: Person) -> None:
    enrolled = enrol(client, member)
    code = enrolled.recovery_codes[0]

    # As people type them from paper: upper case, spaces around.
    signed_in = password_grant(client, member, otp=f"  {code.upper()} ")
    assert signed_in.status_code == 200
    assert password_grant(client, member, otp=code).json()["error"] == "invalid_grant"

    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    status = client.get("/v1/me/mfa", headers=headers).json()
    assert status["recovery_codes_left"] == 9
    assert status["this_sign_in_verified"] is True


def test_renewed_recovery_codes_replace_the_old_set(
    client: TestClient, database: Database, member: Person
) -> None:
    enrolled = enrol(client, member)
    let_a_step_pass(database)
    renewed = client.post(
        "/v1/me/mfa/recovery-codes", headers=member.headers, json={"code": enrolled.code()}
    )
    assert renewed.status_code == 200
    fresh = renewed.json()["recovery_codes"]
    assert not set(fresh) & set(enrolled.recovery_codes)
    assert password_grant(client, member, otp=enrolled.recovery_codes[1]).status_code == 400
    assert password_grant(client, member, otp=fresh[0]).status_code == 200


def test_turning_it_off_needs_the_password_and_a_code(
    client: TestClient, database: Database, member: Person
) -> None:
    enrolled = enrol(client, member)
    let_a_step_pass(database)
    no_password = client.request(
        "DELETE",
        "/v1/me/mfa",
        headers=member.headers,
        json={"password": "not the password", "code": enrolled.code()},
    )
    assert no_password.status_code == 422
    assert status_of(client, member)["enabled"] is True

    off = client.request(
        "DELETE",
        "/v1/me/mfa",
        headers=member.headers,
        json={"password": PASSWORD, "code": enrolled.recovery_codes[0]},
    )
    assert off.status_code == 204
    assert status_of(client, member)["enabled"] is False
    assert password_grant(client, member).status_code == 200
    with database.read_session() as session:
        assert session.exec(select(RecoveryCode)).first() is None


def test_a_refreshed_sign_in_keeps_having_passed_the_factor(
    client: TestClient, member: Person
) -> None:
    enrolled = enrol(client, member)
    signed_in = password_grant(client, member, otp=enrolled.recovery_codes[0]).json()
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": signed_in["refresh_token"]},
    )
    assert refreshed.status_code == 200
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert client.get("/v1/me/mfa", headers=headers).json()["this_sign_in_verified"] is True


# ---------------------------------------------------------------------------
# Staff held to it


@pytest.fixture
def strict_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    strict = settings.model_copy(update={"mfa_required_for_staff": True})
    with TestClient(create_app(strict, database=database)) as test_client:
        yield test_client


def test_staff_need_a_sign_in_that_passed_the_factor_when_it_is_required(
    strict_client: TestClient, make_person: PersonFactory
) -> None:
    client = strict_client
    admin = make_person(Role.ADMIN)
    refused = client.get("/v1/admin/audit", headers=admin.headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/second-factor-required"
    refused_clinic = client.post("/v1/clinics", headers=admin.headers, json={"name": "Hips"})
    assert refused_clinic.status_code == 403
    assert status_of(client, admin)["required"] is True

    # Enrolling counts for the sign-in that did it: no need to sign in again.
    enrol(client, admin)
    assert client.get("/v1/admin/audit", headers=admin.headers).status_code == 200
    clinic = client.post("/v1/clinics", headers=admin.headers, json={"name": "Hips"})
    assert clinic.status_code == 201
    clinic_id = clinic.json()["id"]

    clinician = make_person()
    add_staff(client, clinic_id, admin.headers, clinician)
    assert status_of(client, clinician)["required"] is True
    staff_read = client.get(f"/v1/clinics/{clinic_id}/patients", headers=clinician.headers)
    assert staff_read.status_code == 403
    assert staff_read.json()["type"] == "/problems/second-factor-required"
    # An outsider still learns nothing about the clinic, not even that a factor is needed.
    outsider = make_person()
    assert (
        client.get(f"/v1/clinics/{clinic_id}/patients", headers=outsider.headers).status_code == 404
    )
    assert status_of(client, outsider)["required"] is False
    # A member's own routes never ask.
    assert client.get("/v1/me", headers=clinician.headers).status_code == 200

    enrol(client, clinician)
    assert (
        client.get(f"/v1/clinics/{clinic_id}/patients", headers=clinician.headers).status_code
        == 200
    )


def test_turning_it_off_ends_staff_access_until_it_is_on_again(
    strict_client: TestClient, database: Database, make_person: PersonFactory
) -> None:
    client = strict_client
    admin = make_person(Role.ADMIN)
    enrolled = enrol(client, admin)
    assert client.get("/v1/admin/audit", headers=admin.headers).status_code == 200
    let_a_step_pass(database)
    off = client.request(
        "DELETE",
        "/v1/me/mfa",
        headers=admin.headers,
        json={"password": PASSWORD, "code": enrolled.code()},
    )
    assert off.status_code == 204
    assert client.get("/v1/admin/audit", headers=admin.headers).status_code == 403


def test_api_clients_are_not_asked_for_a_second_factor(
    strict_client: TestClient, make_person: PersonFactory
) -> None:
    client = strict_client
    admin = make_person(Role.ADMIN)
    enrol(client, admin)
    clinic = client.post("/v1/clinics", headers=admin.headers, json={"name": "Hips"}).json()
    owner = make_person()
    add_staff(client, clinic["id"], admin.headers, owner, "owner")
    enrol(client, owner)
    headers = api_client_token(client, ClinicSetup(clinic["id"], owner), ["patients:read"])
    assert client.get(f"/v1/clinics/{clinic['id']}/patients", headers=headers).status_code == 200
