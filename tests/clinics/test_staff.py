"""Staff join a clinic by accepting an invitation sent to their own address, never by being
named: an owner used to add any account as a clinician, who then saw every stage unlocked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.clinics.models import StaffInvitation
from app.core.db import Database
from app.core.models import utcnow
from tests.conftest import (
    ClinicFactory,
    ClinicSetup,
    MailApp,
    Person,
    PersonFactory,
    api_client_token,
)
from tests.mailbox import text_of, token_in

pytestmark = pytest.mark.usefixtures("seeded")
PROGRAM = "whole-leg-rehabilitation"


def invite(client: TestClient, clinic: ClinicSetup, email: str, role: str = "clinician") -> str:
    invited = client.post(
        clinic.path("/staff-invitations"),
        headers=clinic.owner.headers,
        json={"email": email, "role": role},
    )
    assert invited.status_code == 201, invited.text
    code: str = invited.json()["code"]
    return code


def accept(client: TestClient, person: Person, code: str) -> int:
    response = client.post("/v1/me/staff-invitations", headers=person.headers, json={"code": code})
    return response.status_code


def stage_two_access(client: TestClient, person: Person) -> str:
    detail = client.get(f"/v1/programs/{PROGRAM}", headers=person.headers).json()
    access: str = detail["stages"][1]["exercises"][0]["exercise"]["access"]
    return access


def test_naming_an_account_no_longer_makes_it_staff(
    client: TestClient, clinic: ClinicSetup, member: Person
) -> None:
    named = client.post(
        clinic.path("/members"),
        headers=clinic.owner.headers,
        json={"email": member.email, "role": "clinician"},
    )
    assert named.status_code == 405
    assert stage_two_access(client, member) == "locked"
    staff = client.get(clinic.path("/members"), headers=clinic.owner.headers).json()
    assert member.id not in [m["user_id"] for m in staff]


def test_the_invited_address_gets_the_code_by_mail_and_joins_by_accepting_it(
    mail_app: MailApp, make_clinic: ClinicFactory, make_person: PersonFactory
) -> None:
    client = mail_app.client
    clinic = make_clinic("Harbour Physio")
    newcomer = make_person(email="kim@harbour.example")
    shown = invite(client, clinic, newcomer.email)
    mail_app.deliver()
    mail = mail_app.mailbox.last_to(newcomer.email)
    assert "Harbour Physio" in text_of(mail)
    code = token_in(mail)
    assert code == shown
    assert stage_two_access(client, newcomer) == "locked"

    assert accept(client, newcomer, code) == 201
    assert stage_two_access(client, newcomer) == "unlocked"  # a clinician now
    staff = client.get(clinic.path("/members"), headers=clinic.owner.headers).json()
    assert {"user_id": newcomer.id, "role": "clinician"}.items() <= next(
        m for m in staff if m["user_id"] == newcomer.id
    ).items()
    assert accept(client, newcomer, code) == 422  # once


def test_only_the_invited_address_can_accept(
    client: TestClient, clinic: ClinicSetup, make_person: PersonFactory
) -> None:
    invited, other = make_person(), make_person()
    code = invite(client, clinic, invited.email)
    assert accept(client, other, code) == 422
    assert stage_two_access(client, other) == "locked"
    assert accept(client, invited, code) == 201  # the code was not spent by the other


def test_an_unverified_address_cannot_accept(
    client: TestClient, clinic: ClinicSetup, make_person: PersonFactory
) -> None:
    unverified = make_person(verified=False)
    code = invite(client, clinic, unverified.email)
    refused = client.post(
        "/v1/me/staff-invitations", headers=unverified.headers, json={"code": code}
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/email-not-verified")


def test_an_expired_invitation_cannot_be_accepted(
    client: TestClient, clinic: ClinicSetup, member: Person, database: Database
) -> None:
    code = invite(client, clinic, member.email)
    with database.write_session() as session:
        session.execute(update(StaffInvitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert accept(client, member, code) == 422


def test_only_owners_invite_staff(
    client: TestClient, clinic: ClinicSetup, make_person: PersonFactory
) -> None:
    clinician, hopeful = make_person(), make_person()
    assert accept(client, clinician, invite(client, clinic, clinician.email)) == 201
    for headers in (clinician.headers, api_client_token(client, clinic, ["patients:read"])):
        refused = client.post(
            clinic.path("/staff-invitations"),
            headers=headers,
            json={"email": hopeful.email, "role": "owner"},
        )
        assert refused.status_code == 403, refused.text
    listed = client.get(clinic.path("/staff-invitations"), headers=clinician.headers)
    assert listed.status_code == 200, listed.text
    # Newest first: the clinician's, then the owner's own from the clinic's start.
    assert [i["email"] for i in listed.json()] == [clinician.email, clinic.owner.email]
    assert "code" not in listed.json()[0]
