"""An account's life by mail, end to end through the API, the outbox and a real SMTP server:
proving an address, resetting a forgotten password, changing the address, sign-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.core.db import Database
from app.core.models import utcnow
from app.identity.models import AccountToken
from tests.conftest import ClinicSetup, MailApp, Person, PersonFactory, invite, sign_in
from tests.mailbox import html_of, text_of, token_in

PASSWORD = "a sturdy passphrase 42"
NEW_PASSWORD = "another sturdy phrase 77"


def register(client: TestClient, email: str, name: str = "Sam") -> int:
    response = client.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name}
    )
    assert response.status_code == 201, response.text
    assert response.json()["email_verified"] is False
    user_id: int = response.json()["id"]
    return user_id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(client: TestClient, access_token: str) -> dict[str, object]:
    response = client.get("/v1/me", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def expire_tokens(database: Database) -> None:
    with database.write_session() as session:
        session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))


# ---------------------------------------------------------------------------
# Proving an address


def test_registering_mails_a_link_that_verifies_the_address_once(mail_app: MailApp) -> None:
    client = mail_app.client
    register(client, "sam@example.com", name="Sam <b>")
    assert mail_app.deliver() == 1
    mail = mail_app.mailbox.last_to("sam@example.com")
    assert mail["Subject"] == "Confirm your email address - Rehab"
    assert "https://app.example.com/open/verify-email?token=" in text_of(mail)
    assert "Sam &lt;b&gt;" in html_of(mail)  # the person's own text is escaped in HTML

    tokens = sign_in(client, "sam@example.com", PASSWORD)
    assert me(client, tokens["access_token"])["email_verified"] is False
    token = token_in(mail)
    verified = client.post("/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 204, verified.text
    assert me(client, tokens["access_token"])["email_verified"] is True

    again = client.post("/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 409
    assert again.json()["type"].endswith("/invalid-token")


def test_an_expired_verification_link_verifies_nothing(
    mail_app: MailApp, database: Database
) -> None:
    register(mail_app.client, "late@example.com")
    mail_app.deliver()
    expire_tokens(database)
    token = token_in(mail_app.mailbox.last_to("late@example.com"))
    assert mail_app.client.post("/v1/auth/verify-email", json={"token": token}).status_code == 409
    tokens = sign_in(mail_app.client, "late@example.com", PASSWORD)
    assert me(mail_app.client, tokens["access_token"])["email_verified"] is False


def test_the_verification_mail_can_be_sent_again_a_few_times(mail_app: MailApp) -> None:
    client = mail_app.client
    register(client, "again@example.com")
    headers = bearer(sign_in(client, "again@example.com", PASSWORD)["access_token"])
    for _ in range(3):
        assert client.post("/v1/auth/verify-email/resend", headers=headers).status_code == 202
    limited = client.post("/v1/auth/verify-email/resend", headers=headers)
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    mail_app.deliver()
    mails = mail_app.mailbox.to("again@example.com")
    assert len(mails) == 4  # at registration, then three times on request
    # The newest link works; so does an earlier one until one is used.
    token = token_in(mails[-1])
    assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 204
    assert client.post("/v1/auth/verify-email/resend", headers=headers).status_code == 409


# ---------------------------------------------------------------------------
# A forgotten password


def test_a_reset_answers_alike_for_known_and_unknown_addresses(mail_app: MailApp) -> None:
    client = mail_app.client
    register(client, "known@example.com")
    mail_app.deliver()
    before = len(mail_app.mailbox.messages)
    answers = [
        client.post("/v1/auth/password-reset", json={"email": email})
        for email in ("known@example.com", "nobody@example.com")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    skip = {"x-request-id", "date", "content-length"}
    assert {k: v for k, v in answers[0].headers.items() if k not in skip} == {
        k: v for k, v in answers[1].headers.items() if k not in skip
    }
    mail_app.deliver()
    sent = mail_app.mailbox.messages[before:]
    assert [m["To"] for m in sent] == ["known@example.com"]
    assert sent[0]["Subject"] == "Reset your password - Rehab"


def test_a_reset_link_sets_the_password_once_and_ends_every_sign_in(mail_app: MailApp) -> None:
    client = mail_app.client
    register(client, "forgot@example.com")
    old = sign_in(client, "forgot@example.com", PASSWORD)
    assert (
        client.post("/v1/auth/password-reset", json={"email": "forgot@example.com"}).status_code
        == 202
    )
    mail_app.deliver()
    token = token_in(mail_app.mailbox.last_to("forgot@example.com"))

    weak = client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": " " * 12}
    )
    assert weak.status_code == 422  # the registration policy
    done = client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204, done.text
    assert client.get("/v1/me", headers=bearer(old["access_token"])).status_code == 401
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
    )
    assert refreshed.status_code == 400
    sign_in(client, "forgot@example.com", NEW_PASSWORD)
    failed = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "forgot@example.com", "password": PASSWORD},
    )
    assert failed.status_code == 400

    twice = client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "a third phrase 99"},
    )
    assert twice.status_code == 409
    mail_app.deliver()
    assert mail_app.mailbox.last_to("forgot@example.com")["Subject"].startswith(
        "Your password was changed"
    )


def test_a_reset_link_dies_when_it_expires_or_the_password_changes_first(
    mail_app: MailApp, database: Database
) -> None:
    client = mail_app.client
    register(client, "twice@example.com")
    tokens = sign_in(client, "twice@example.com", PASSWORD)
    client.post("/v1/auth/password-reset", json={"email": "twice@example.com"})
    mail_app.deliver()
    issued_before_change = token_in(mail_app.mailbox.last_to("twice@example.com"))
    changed = client.post(
        "/v1/me/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    stale = client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": issued_before_change, "new_password": "a third phrase 99"},
    )
    assert stale.status_code == 409

    client.post("/v1/auth/password-reset", json={"email": "twice@example.com"})
    mail_app.deliver()
    expire_tokens(database)
    expired = client.post(
        "/v1/auth/password-reset/confirm",
        json={
            "token": token_in(mail_app.mailbox.last_to("twice@example.com")),
            "new_password": "a third phrase 99",
        },
    )
    assert expired.status_code == 409
    sign_in(client, "twice@example.com", NEW_PASSWORD)


def test_resets_are_rate_limited_per_address_asked_for(mail_app: MailApp) -> None:
    statuses = [
        mail_app.client.post("/v1/auth/password-reset", json={"email": "x@example.com"}).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


# ---------------------------------------------------------------------------
# Changing the address


def test_a_new_address_takes_effect_once_confirmed_and_the_old_one_is_told(
    mail_app: MailApp,
) -> None:
    client = mail_app.client
    register(client, "old@example.com")
    tokens = sign_in(client, "old@example.com", PASSWORD)
    headers = bearer(tokens["access_token"])
    wrong = client.post(
        "/v1/me/email",
        headers=headers,
        json={"email": "new@example.com", "current_password": "nope nope nope"},
    )
    assert wrong.status_code == 422
    asked = client.post(
        "/v1/me/email",
        headers=headers,
        json={"email": "new@example.com", "current_password": PASSWORD},
    )
    assert asked.status_code == 202, asked.text
    mail_app.deliver()
    assert me(client, tokens["access_token"])["email"] == "old@example.com"

    token = token_in(mail_app.mailbox.last_to("new@example.com"))
    assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 204
    account = me(client, tokens["access_token"])
    assert (account["email"], account["email_verified"]) == ("new@example.com", True)
    mail_app.deliver()
    notice = mail_app.mailbox.last_to("old@example.com")
    assert notice["Subject"].startswith("Your email address was changed")
    assert "new@example.com" in text_of(notice)
    sign_in(client, "new@example.com", PASSWORD)


def test_an_address_another_account_holds_gets_no_mail_and_the_answer_is_the_same(
    mail_app: MailApp, make_person: PersonFactory
) -> None:
    taken = make_person(email="taken@example.com")
    register(mail_app.client, "mover@example.com")
    headers = bearer(sign_in(mail_app.client, "mover@example.com", PASSWORD)["access_token"])
    asked = mail_app.client.post(
        "/v1/me/email", headers=headers, json={"email": taken.email, "current_password": PASSWORD}
    )
    assert asked.status_code == 202
    mail_app.deliver()
    assert mail_app.mailbox.to(taken.email) == []


# ---------------------------------------------------------------------------
# Sign-ins


def test_sign_ins_are_listed_by_device_and_one_can_be_ended_at_once(
    client: TestClient, member: Person, make_person: PersonFactory
) -> None:
    phone = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": member.email,
            "password": member.password,
            "device_name": "Sam's phone",
        },
        headers={"User-Agent": "RehabApp/3.1 (iOS)"},
    ).json()
    listed = client.get("/v1/me/sign-ins", headers=member.headers)
    assert listed.status_code == 200
    devices = {s["device"]: s for s in listed.json()}
    assert "Sam's phone" in devices
    assert [s["current"] for s in listed.json()].count(True) == 1
    phone_id = devices["Sam's phone"]["id"]
    assert devices["Sam's phone"]["current"] is False

    ended = client.delete(f"/v1/me/sign-ins/{phone_id}", headers=member.headers)
    assert ended.status_code == 204
    assert client.get("/v1/me", headers=bearer(phone["access_token"])).status_code == 401
    assert client.get("/v1/me", headers=member.headers).status_code == 200
    assert phone_id not in [
        s["id"] for s in client.get("/v1/me/sign-ins", headers=member.headers).json()
    ]
    assert client.delete(f"/v1/me/sign-ins/{phone_id}", headers=member.headers).status_code == 404
    # Another person's sign-in is not found either.
    other = make_person()
    theirs = client.get("/v1/me/sign-ins", headers=other.headers).json()[0]["id"]
    assert client.delete(f"/v1/me/sign-ins/{theirs}", headers=member.headers).status_code == 404
    assert client.get("/v1/me", headers=other.headers).status_code == 200


# ---------------------------------------------------------------------------
# Clinics need proven addresses


def test_an_unverified_patient_cannot_link_to_a_clinic_until_verified(
    mail_app: MailApp, clinic: ClinicSetup
) -> None:
    client = mail_app.client
    register(client, "patient@example.com")
    headers = bearer(sign_in(client, "patient@example.com", PASSWORD)["access_token"])
    code = invite(client, clinic)
    refused = client.post("/v1/me/clinic-links", headers=headers, json={"code": code})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/email-not-verified")
    mail_app.deliver()
    token = token_in(mail_app.mailbox.last_to("patient@example.com"))
    assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 204
    # The code was not spent by the refusal.
    assert (
        client.post("/v1/me/clinic-links", headers=headers, json={"code": code}).status_code == 201
    )


@pytest.mark.usefixtures("seeded")
def test_an_unverified_account_cannot_be_made_clinic_staff(
    client: TestClient, clinic: ClinicSetup, make_person: PersonFactory
) -> None:
    newcomer = make_person(verified=False)
    invited = client.post(
        clinic.path("/staff-invitations"),
        headers=clinic.owner.headers,
        json={"email": newcomer.email, "role": "clinician"},
    )
    assert invited.status_code == 201, invited.text
    refused = client.post(
        "/v1/me/staff-invitations",
        headers=newcomer.headers,
        json={"code": invited.json()["code"]},
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/email-not-verified")
