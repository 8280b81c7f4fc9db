"""What the clock brings is swept by whatever sends the outbox: reminders every half
minute, adherence every ADHERENCE_CHECK_MINUTES, each once per period and one process
at a time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlmodel import col

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from app.outcomes.sweeps import ADHERENCE_LOCK_KEY, Sweeps, queue_adherence_alerts
from app.progress.models import Enrollment
from tests.conftest import ClinicSetup, Person
from tests.outcomes.test_adherence_alert import low_events
from tests.outcomes.test_reminders import make, sent_at

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def falling_behind(
    client: TestClient, clinic: ClinicSetup, patient: Person, database: Database
) -> Person:
    """A patient ten days into a program with no session, at a clinic watching at 50%."""
    hook = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": "https://93.184.216.34/hook", "event_types": ["adherence.low"]},
    )
    assert hook.status_code == 201, hook.text
    watch = client.put(
        clinic.path("/adherence-alert"), headers=clinic.owner.headers, json={"threshold": 50}
    )
    assert watch.status_code == 200, watch.text
    with database.write_session() as session:
        session.execute(
            update(Enrollment)
            .where(col(Enrollment.user_id) == patient.id)
            .values(started_at=NOW - timedelta(days=10))
        )
    return patient


def test_the_sweeps_queue_a_due_reminder_and_low_adherence_once_a_period(
    database: Database, falling_behind: Person
) -> None:
    due = NOW - timedelta(minutes=1)
    make(database, falling_behind, due.strftime("%H:%M"), "UTC", due - timedelta(minutes=30))
    sweeps = Sweeps(database, adherence_every_seconds=3600, clock=lambda: NOW)
    assert sweeps.run_due() == {"reminders": 1, "adherence": 1}
    assert sweeps.run_due() == {}  # neither period has passed
    assert len(sent_at(database)) == 1
    assert [e.payload["data"]["patient_id"] for e in low_events(database)] == [falling_behind.id]


def test_without_an_adherence_period_only_reminders_are_swept(
    database: Database, falling_behind: Person
) -> None:
    sweeps = Sweeps(database, adherence_every_seconds=0, clock=lambda: NOW)
    assert sweeps.run_due() == {"reminders": 0}
    assert low_events(database) == []


def test_the_adherence_check_runs_in_one_process_at_a_time(
    database: Database, falling_behind: Person
) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time already")
    with database.write_session() as other:
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADHERENCE_LOCK_KEY})
        with database.write_session() as session:
            assert queue_adherence_alerts(session, NOW) == 0  # another process is checking
    with database.write_session() as session:
        assert queue_adherence_alerts(session, NOW) == 1
    assert len(low_events(database)) == 1


def test_a_server_that_sends_the_outbox_sweeps_too(
    settings: Settings, database: Database, member: Person
) -> None:
    """`make run` serves with the outbox worker on: its reminders come with nothing else."""
    due = datetime.now(UTC) - timedelta(minutes=1)
    make(database, member, due.strftime("%H:%M"), "UTC", due - timedelta(minutes=30))
    app = create_app(settings.model_copy(update={"webhook_worker": True}), database=database)
    with TestClient(app):
        deadline = time.monotonic() + 10
        while not sent_at(database) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(sent_at(database)) == 1
