"""`adherence.low` fires once when a patient falls below the clinic's threshold, and again
only after they recovered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from app.catalog.loading import load_snapshot
from app.clinics.event_schemas import EVENT_BODIES
from app.core.db import Database
from app.outbox.models import OutboxMessage
from app.outcomes.alerts import check_adherence
from app.progress.models import Enrollment
from tests.conftest import ClinicSetup, Person
from tests.outcomes.conftest import PROGRAM
from tests.progress.conftest import session_body, stage_slugs


def sweep(database: Database, now: datetime) -> int:
    with database.write_session() as session:
        snapshot = load_snapshot(session, media_url=lambda key: key)
        return check_adherence(session, snapshot=snapshot, now=now)


def low_events(database: Database) -> list[OutboxMessage]:
    """The `adherence.low` events queued, each checked against its documented body."""
    with database.read_session() as session:
        events = list(
            session.exec(
                select(OutboxMessage).where(col(OutboxMessage.event_type) == "adherence.low")
            ).all()
        )
    for event in events:
        EVENT_BODIES["adherence.low"].model_validate(event.payload)
    return events


def test_low_adherence_is_told_once_and_again_after_recovery(
    client: TestClient, clinic: ClinicSetup, patient: Person, database: Database
) -> None:
    hook = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": "https://93.184.216.34/hook", "event_types": ["adherence.low"]},
    )
    assert hook.status_code == 201, hook.text
    now = datetime.now(UTC)
    assert sweep(database, now) == 0  # no threshold set: nobody is watched
    watch = client.put(
        clinic.path("/adherence-alert"), headers=clinic.owner.headers, json={"threshold": 50}
    )
    assert watch.json() == {"threshold": 50}
    assert sweep(database, now) == 0  # enrolled today: not judged before a week has passed

    with database.write_session() as session:
        session.execute(
            update(Enrollment)
            .where(col(Enrollment.user_id) == patient.id)
            .values(started_at=now - timedelta(days=10))
        )
    assert sweep(database, now) == 1
    [event] = low_events(database)
    assert event.payload["data"]["patient_id"] == patient.id
    assert event.payload["data"]["adherence_percent"] == 0
    assert event.payload["data"]["threshold_percent"] == 50
    assert sweep(database, now + timedelta(hours=1)) == 0  # still low: no news

    per_week = client.get("/v1/me/progress", headers=patient.headers).json()["programs"][0][
        "prescribed_sessions_per_week"
    ]
    exercises = stage_slugs(client, PROGRAM, 1)[:1]
    for n in range(per_week):
        at = now - timedelta(hours=n + 1)
        body = session_body(PROGRAM, 1, exercises, performed_at=at)
        put = client.put(f"/v1/me/sessions/{uuid.uuid4()}", headers=patient.headers, json=body)
        assert put.status_code == 201
    assert sweep(database, now) == 0  # recovered
    assert sweep(database, now + timedelta(days=8)) == 1  # the week went by with nothing
    assert len(low_events(database)) == 2


def test_the_threshold_is_read_set_and_cleared(client: TestClient, clinic: ClinicSetup) -> None:
    path, headers = clinic.path("/adherence-alert"), clinic.owner.headers
    assert client.get(path, headers=headers).json() == {"threshold": None}
    assert client.put(path, headers=headers, json={"threshold": 0}).status_code == 422
    client.put(path, headers=headers, json={"threshold": 60})
    assert client.get(path, headers=headers).json() == {"threshold": 60}
    client.put(path, headers=headers, json={"threshold": None})
    assert client.get(path, headers=headers).json() == {"threshold": None}
