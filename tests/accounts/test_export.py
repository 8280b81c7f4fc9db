"""Exporting everything held about a person: one JSON document, streamed in bounded memory."""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import select

from app.accounts.export import export_document
from app.accounts.schemas import AccountExport
from app.catalog.models import Exercise, Program
from app.clinics.access_log import ACCESS_LOG
from app.core.db import Database
from app.core.models import utcnow
from app.progress.models import SessionEntry, SessionLog
from tests.conftest import ClinicSetup, Person, link
from tests.progress.conftest import enroll, session_body, stage_slugs

pytestmark = pytest.mark.usefixtures("seeded")
PROGRAM = "whole-leg-rehabilitation"


def test_the_export_holds_what_was_logged_consented_and_sent(
    client: TestClient, member: Person, clinic: ClinicSetup
) -> None:
    link(client, clinic, member)
    enroll(client, member, PROGRAM)
    exercises = stage_slugs(client, PROGRAM, 1)[:2]
    logged = []
    for pain in (2, 4):
        body = session_body(PROGRAM, 1, exercises, pain=pain) | {"note": f"pain {pain}"}
        key = str(uuid.uuid4())
        response = client.put(f"/v1/me/sessions/{key}", headers=member.headers, json=body)
        assert response.status_code == 201
        logged.append((key, body))
    deleted = logged.pop()
    assert client.delete(f"/v1/me/sessions/{deleted[0]}", headers=member.headers).status_code == 204
    moved = client.put(
        clinic.path(f"/patients/{member.id}/enrollments/{PROGRAM}/stage"),
        headers=clinic.owner.headers,
        json={"stage": 2, "reason": "Seen in clinic"},
    )
    assert moved.status_code == 200
    assert client.post("/v1/auth/verify-email/resend", headers=member.headers).status_code == 409
    read = client.get(clinic.path(f"/patients/{member.id}/sessions"), headers=clinic.owner.headers)
    assert read.status_code == 200
    ACCESS_LOG.of_app(client.app).flush()

    response = client.get("/v1/me/export", headers=member.headers)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["cache-control"] == "private, no-store"
    export = AccountExport.model_validate(response.json())

    assert (export.profile.id, export.profile.email) == (member.id, member.email)
    assert [link_.clinic_id for link_ in export.clinic_links] == [clinic.id]
    [enrollment] = export.enrollments
    assert enrollment.program == PROGRAM
    assert [(h.reason, h.note, h.changed_by) for h in enrollment.history] == [
        ("enrolled", None, member.id),
        ("clinician", "Seen in clinic", clinic.owner.id),
    ]
    kept = {s.id: s for s in export.sessions}
    assert kept[logged[0][0]].note == "pain 2"
    assert [e.exercise for e in kept[logged[0][0]].entries] == exercises
    assert [e.pain for e in kept[logged[0][0]].entries] == [2, 2]
    assert kept[deleted[0]].deleted_at is not None
    assert kept[deleted[0]].entries == []
    assert {r.exercise for r in export.ratings} == set(exercises)
    assert len(export.sign_ins) == 1
    assert export.sign_ins[0].ended_at is None
    # Who at the clinic read their data: the stage change, then the sessions.
    assert [(a.what, a.actor.id) for a in export.access_log] == [
        ("set_patient_stage", clinic.owner.id),
        ("list_patient_sessions", clinic.owner.id),
    ]


def test_the_export_is_a_schema_in_the_openapi_document(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/me/export"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/AccountExport"}


def add_sessions(database: Database, person: Person, first: int, last: int) -> None:
    """Sessions `first`..`last` of `person`, written straight to the tables (fast)."""
    now = utcnow()
    with database.write_session() as session:
        program_id = session.exec(select(Program.id).where(Program.slug == PROGRAM)).one()
        exercise_id = session.exec(select(Exercise.id)).first()
        logs, entries = [], []
        for n in range(first, last + 1):
            key = str(uuid.UUID(int=n))
            at = now - timedelta(minutes=n)
            logs.append(
                {
                    "id": key,
                    "user_id": person.id,
                    "program_id": program_id,
                    "stage_position": 1,
                    "performed_at": at,
                    "note": "x" * 200,
                    "seq": n,
                    "created_at": at,
                    "updated_at": at,
                    "deleted_at": None,
                }
            )
            entries.append(
                {"session_id": key, "user_id": person.id, "program_id": program_id,
                 "stage_position": 1, "performed_at": at, "exercise_id": exercise_id,
                 "position": 1, "sets_done": 2, "reps_done": 10, "hold_seconds_done": None,
                 "difficulty": "easy", "pain": 1, "note": "y" * 200}
            )  # fmt: skip
        session.execute(insert(SessionLog), logs)
        session.execute(insert(SessionEntry), entries)


def exported(database: Database, person: Person) -> tuple[int, int]:
    """The export's size, and the most memory it held at once (bytes)."""
    tracemalloc.start()
    size = 0
    for chunk in export_document(database, person.id, utcnow()):
        size += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, peak


def test_ten_thousand_sessions_export_in_bounded_memory(
    database: Database, member: Person, client: TestClient
) -> None:
    enroll(client, member, PROGRAM)
    add_sessions(database, member, 1, 2_000)
    small, small_peak = exported(database, member)
    add_sessions(database, member, 2_001, 10_000)
    large, large_peak = exported(database, member)
    assert large > 4.5 * small  # five times the sessions, all written out
    # Memory follows the batch, not the history: five times the data, about the same peak.
    assert large_peak < 1.5 * small_peak, (
        f"peak {small_peak / 1e6:.1f} MB for {small / 1e6:.1f} MB, "
        f"{large_peak / 1e6:.1f} MB for {large / 1e6:.1f} MB"
    )
