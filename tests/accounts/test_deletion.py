"""Deleting an account from inside the app: immediate and complete.

After `DELETE /v1/me` nothing in the database refers to the person (every column
that points at an account is checked, table by table), their tokens stop at
once, the clinics they consented to get `patient.deleted` with only their patient
id, and nobody else's data changes.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlmodel import col

from app.authoring.models import AuditEntry
from app.clinics.access_log import ACCESS_LOG
from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.core.deps import DATABASE
from app.core.models import utcnow
from app.identity.models import RefreshFamily
from app.models import metadata
from app.outbox.models import Channel, OutboxMessage
from app.outcomes.instruments import apply_seed, read_seed
from tests.conftest import ClinicSetup, Person, PersonFactory, link, sign_in
from tests.outcomes.conftest import Answer, answered, schedule
from tests.progress.conftest import enroll, session_body, stage_slugs

pytestmark = pytest.mark.usefixtures("seeded")
PROGRAM = "whole-leg-rehabilitation"
HOOK = "https://93.184.216.34/hook"


def references_to(database: Database, user_id: int) -> dict[str, int]:
    """Rows in any table with a column that points at account `user_id`."""
    found: dict[str, int] = {}
    with database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for column in table.columns:
                pointed = {fk.column.table.name for fk in column.foreign_keys}
                if table.name == "user_account" and column.name == "id":
                    pointed = {"user_account"}
                if "user_account" not in pointed:
                    continue
                count = connection.execute(
                    select(func.count()).select_from(table).where(column == user_id)
                ).scalar_one()
                if count:
                    found[f"{table.name}.{column.name}"] = count
    return found


def busy_patient(client: TestClient, person: Person, clinic: ClinicSetup) -> None:
    """A person with something in every room: programs, sessions, a link, sign-ins, mail."""
    link(client, clinic, person)
    enroll(client, person, PROGRAM)
    body = session_body(PROGRAM, 1, stage_slugs(client, PROGRAM, 1)[:2], pain=3)
    body["note"] = "Felt it in the left knee"
    logged = client.put(f"/v1/me/sessions/{uuid.uuid4()}", headers=person.headers, json=body)
    assert logged.status_code == 201, logged.text
    assert client.post("/v1/auth/verify-email/resend", headers=person.headers).status_code in (
        202,
        409,
    )
    sign_in(client, person.email, person.password)
    with database_of(client).write_session() as session:
        apply_seed(session, read_seed(PROJECT_ROOT / "seed" / "instruments"), now=utcnow())
    made = schedule(client, clinic, person, "pain-rating", "at_enrollment", program=PROGRAM)
    answered(client, person, Answer(made["id"], {"worst": 5, "average": 3}))
    reminder = client.post(
        "/v1/me/reminders",
        headers=person.headers,
        json={"local_time": "08:00", "weekdays": [0, 3], "timezone": "Europe/Paris"},
    )
    assert reminder.status_code == 201, reminder.text
    # Scheduling read the patient: that read is in their access log from now on.
    ACCESS_LOG.of_app(client.app).flush()


def database_of(client: TestClient) -> Database:
    return DATABASE.of_app(client.app)


def delete_me(client: TestClient, person: Person, password: str | None) -> Any:
    body = {"current_password": password} if password is not None else {}
    return client.request("DELETE", "/v1/me", headers=person.headers, json=body)


def test_the_wrong_password_deletes_nothing(client: TestClient, member: Person) -> None:
    refused = delete_me(client, member, "not my password at all")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/current_password"
    assert client.get("/v1/me", headers=member.headers).status_code == 200


def test_without_the_password_only_a_fresh_sign_in_may_delete(
    client: TestClient, database: Database, member: Person
) -> None:
    with database.write_session() as session:
        session.execute(update(RefreshFamily).values(created_at=utcnow() - timedelta(minutes=30)))
    stale = delete_me(client, member, None)
    assert stale.status_code == 403
    assert stale.json()["type"].endswith("/reauthentication-required")
    fresh = sign_in(client, member.email, member.password)
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    without_a_body = client.delete("/v1/me", headers=headers)
    assert without_a_body.status_code == 422  # deleting is never what an empty request means
    deleted = client.request("DELETE", "/v1/me", headers=headers, json={})
    assert deleted.status_code == 204


def test_deleting_erases_every_row_about_the_person_and_ends_every_token(
    client: TestClient,
    database: Database,
    clinic: ClinicSetup,
    make_person: PersonFactory,
) -> None:
    patient, bystander = make_person(), make_person()
    busy_patient(client, patient, clinic)
    busy_patient(client, bystander, clinic)
    bystander_export = client.get("/v1/me/export", headers=bystander.headers).json()
    assert references_to(database, patient.id)  # there was plenty to erase

    assert delete_me(client, patient, patient.password).status_code == 204

    assert references_to(database, patient.id) == {}
    with database.engine.connect() as connection:
        outbox = connection.execute(text("SELECT payload FROM outbox_message")).all()
    assert patient.email not in str(outbox)
    assert client.get("/v1/me", headers=patient.headers).status_code == 401
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": patient.refresh_token},
    )
    assert refreshed.status_code == 400
    login = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": patient.email, "password": patient.password},
    )
    assert login.status_code == 400
    # Nobody else's data moved.
    after = client.get("/v1/me/export", headers=bystander.headers).json()
    assert {k: v for k, v in after.items() if k != "exported_at"} == {
        k: v for k, v in bystander_export.items() if k != "exported_at"
    }
    patients = client.get(clinic.path("/patients"), headers=clinic.owner.headers).json()
    assert [p["id"] for p in patients["items"]] == [bystander.id]


def test_linked_clinics_get_patient_deleted_with_only_their_patient_id(
    client: TestClient, database: Database, make_clinic: Any, make_person: PersonFactory
) -> None:
    settings_client = client
    first, second = make_clinic("First"), make_clinic("Second")
    for clinic in (first, second):
        hooked = settings_client.post(
            clinic.path("/webhooks"),
            headers=clinic.owner.headers,
            json={"url": HOOK, "event_types": ["patient.deleted", "session.logged"]},
        )
        assert hooked.status_code == 201, hooked.text
    patient = make_person()
    busy_patient(client, patient, first)
    link(client, second, patient)
    with database.engine.connect() as connection:
        owed_before = connection.execute(
            select(func.count()).select_from(OutboxMessage)
        ).scalar_one()
    assert owed_before >= 1  # the session.logged delivery, still pending

    assert delete_me(client, patient, patient.password).status_code == 204

    with database.read_session() as session:
        rows = (
            session.execute(
                select(OutboxMessage).where(col(OutboxMessage.channel) == Channel.WEBHOOK)
            )
            .scalars()
            .all()
        )
    assert {row.event_type for row in rows} == {"patient.deleted"}
    assert sorted(row.payload["clinic_id"] for row in rows) == sorted([first.id, second.id])
    assert all(row.payload["data"] == {"patient_id": patient.id} for row in rows)
    assert all(row.user_id is None for row in rows)


def test_an_admins_audit_entries_stay_with_a_placeholder_for_the_actor(
    client: TestClient, database: Database, make_person: PersonFactory
) -> None:
    from app.access.policy import Role

    admin = make_person(Role.ADMIN)
    second_admin = make_person(Role.ADMIN)
    document = client.get("/v1/admin/exercises/clamshell", headers=admin.headers)
    edited = client.put(
        "/v1/admin/exercises/clamshell",
        headers=admin.headers | {"If-Match": document.headers["etag"]},
        json=document.json() | {"name": "Clamshell, side-lying"},
    )
    assert edited.status_code == 200, edited.text
    assert delete_me(client, admin, admin.password).status_code == 204
    trail = client.get("/v1/admin/audit?slug=clamshell", headers=second_admin.headers).json()
    [entry] = trail["items"]
    assert entry["actor"] == {"id": None, "email": "erased account"}
    assert entry["after"]["name"] == "Clamshell, side-lying"
    with database.engine.connect() as connection:
        emails = connection.execute(select(col(AuditEntry.actor_email))).scalars().all()
    assert admin.email not in emails
