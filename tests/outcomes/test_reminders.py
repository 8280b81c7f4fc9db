"""Reminders come once at each local time, across clock changes in two zones, and not on
days already done. The sweep is given its `now`: no sleeping, no waiting for the clock."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.core.db import Database
from app.outbox.models import OutboxMessage
from app.outcomes import reminders
from app.outcomes.schemas import ReminderIn
from tests.conftest import Person
from tests.outcomes.conftest import PROGRAM
from tests.outcomes.test_today import near_noon
from tests.progress.conftest import enroll, session_body, stage_slugs

EVERY_DAY = list(range(7))


def sent_at(database: Database) -> list[datetime]:
    """When each queued reminder was queued (the sweep's `now`)."""
    with database.read_session() as session:
        return [
            message.created_at.replace(tzinfo=UTC)
            if message.created_at.tzinfo is None
            else message.created_at
            for message in session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.event_type) == reminders.KIND)
                .order_by(col(OutboxMessage.id))
            )
        ]


def sweep_every(database: Database, start: datetime, end: datetime, step: timedelta) -> None:
    now = start
    while now <= end:
        with database.write_session() as session:
            reminders.send_due(session, now=now)
        now += step


def make(database: Database, person: Person, at: str, zone: str, now: datetime) -> None:
    body = ReminderIn(local_time=at, weekdays=EVERY_DAY, timezone=zone)
    with database.write_session() as session:
        reminders.create(session, user_id=person.id, body=body, now=now)


@pytest.mark.parametrize(
    ("zone", "at", "change_day", "expected_on_change_day"),
    [
        # Spring forward in New York (8 March 2026): 02:30 does not exist that night, and
        # the reminder comes at 03:30 instead, once.
        ("America/New_York", "02:30", date(2026, 3, 8), time(3, 30)),
        # Autumn in London (25 October 2026): 01:30 happens twice; the reminder comes once.
        ("Europe/London", "01:30", date(2026, 10, 25), time(1, 30)),
        # Autumn in Sydney (5 April 2026): 02:30 happens twice there too.
        ("Australia/Sydney", "02:30", date(2026, 4, 5), time(2, 30)),
    ],
)
def test_one_reminder_a_day_across_a_clock_change(
    database: Database,
    member: Person,
    zone: str,
    at: str,
    change_day: date,
    expected_on_change_day: time,
) -> None:
    local = ZoneInfo(zone)
    start = datetime.combine(change_day - timedelta(days=2), time(12), tzinfo=local)
    end = datetime.combine(change_day + timedelta(days=2), time(12), tzinfo=local)
    make(database, member, at, zone, start.astimezone(UTC))
    sweep_every(database, start.astimezone(UTC), end.astimezone(UTC), timedelta(minutes=5))

    moments = [moment.astimezone(local) for moment in sent_at(database)]
    per_day = Counter(moment.date() for moment in moments)
    expected_days = [change_day + timedelta(days=n) for n in (-1, 0, 1, 2)]
    assert per_day == dict.fromkeys(expected_days, 1)
    for moment in moments:
        wanted = expected_on_change_day if moment.date() == change_day else time.fromisoformat(at)
        # Sent by the first sweep at or after the moment: within one 5-minute step.
        late = datetime.combine(moment.date(), moment.time(), tzinfo=local) - datetime.combine(
            moment.date(), wanted, tzinfo=local
        )
        assert timedelta(0) <= late < timedelta(minutes=5), (moment, wanted)


def test_a_day_already_done_gets_no_reminder(
    client: TestClient, database: Database, member: Person, seeded: object
) -> None:
    enroll(client, member, PROGRAM)
    zone = near_noon()  # about noon there: an hour from now is still today
    now = datetime.now(UTC)
    soon = (now + timedelta(hours=1)).astimezone(ZoneInfo(zone))
    make(database, member, soon.strftime("%H:%M"), zone, now)
    body = session_body(PROGRAM, 1, stage_slugs(client, PROGRAM, 1)[:1], performed_at=now)
    logged = client.put(f"/v1/me/sessions/{uuid.uuid4()}", headers=member.headers, json=body)
    assert logged.status_code == 201
    with database.write_session() as session:
        assert reminders.send_due(session, now=now + timedelta(hours=1, minutes=1)) == 0
    # Tomorrow nothing is done yet: it comes.
    with database.write_session() as session:
        assert reminders.send_due(session, now=now + timedelta(days=1, hours=1, minutes=1)) == 1
    assert len(sent_at(database)) == 1


def test_a_late_sweep_skips_rather_than_sends_out_of_time(
    database: Database, member: Person
) -> None:
    start = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    make(database, member, "08:00", "UTC", start)
    with database.write_session() as session:
        assert reminders.send_due(session, now=start + timedelta(hours=5)) == 0
    with database.write_session() as session:  # the next day's comes as usual
        assert reminders.send_due(session, now=start + timedelta(days=1, hours=2)) == 1


def test_reminders_through_the_api(client: TestClient, member: Person, person2: Person) -> None:
    created = client.post(
        "/v1/me/reminders",
        headers=member.headers,
        json={"local_time": "07:45", "weekdays": [0, 2, 4], "timezone": "Europe/Madrid"},
    )
    assert created.status_code == 201, created.text
    reminder = created.json()
    due = datetime.fromisoformat(reminder["next_due_at"]).astimezone(ZoneInfo("Europe/Madrid"))
    assert (due.hour, due.minute, due.weekday() in (0, 2, 4)) == (7, 45, True)
    assert [r["id"] for r in client.get("/v1/me/reminders", headers=member.headers).json()] == [
        reminder["id"]
    ]
    bad = client.post(
        "/v1/me/reminders",
        headers=member.headers,
        json={"local_time": "25:00", "weekdays": [], "timezone": "Mars/Olympus"},
    )
    assert bad.status_code == 422
    assert {e["pointer"] for e in bad.json()["errors"]} == {
        "/local_time",
        "/weekdays",
        "/timezone",  # Mars/Olympus is no IANA name
    }
    unknown_zone = client.post(
        "/v1/me/reminders",
        headers=member.headers,
        json={"local_time": "07:00", "weekdays": [1], "timezone": "Mars/Olympus"},
    )
    assert unknown_zone.status_code == 422
    assert unknown_zone.json()["errors"][0]["pointer"] == "/timezone"
    path = f"/v1/me/reminders/{reminder['id']}"
    assert client.delete(path, headers=person2.headers).status_code == 404
    assert client.delete(path, headers=member.headers).status_code == 204
    assert client.get("/v1/me/reminders", headers=member.headers).json() == []


@pytest.fixture
def person2(make_person: object) -> Person:
    return make_person()  # type: ignore[operator,no-any-return]
