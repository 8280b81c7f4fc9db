"""`GET /v1/me/today` against a scripted week of sessions, in the caller's time zone."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.outcomes.today import planned_today
from tests.conftest import ClinicSetup, Person
from tests.outcomes.conftest import PROGRAM, Answer, answered, schedule
from tests.progress.conftest import session_body, stage_slugs

THURSDAY = date(2026, 3, 26)


def days(*offsets: int) -> set[date]:
    return {THURSDAY - timedelta(days=n) for n in offsets}


def test_a_planned_day_until_the_weeks_days_are_done() -> None:
    assert planned_today(3, days(3, 2), THURSDAY)  # Monday and Tuesday: one more is due
    assert not planned_today(3, days(3, 2, 1), THURSDAY)  # three this week: rest
    assert planned_today(3, days(4, 5, 6), THURSDAY)  # last week's sessions do not count
    assert planned_today(7, days(3, 2, 1), THURSDAY)  # a daily stage plans every day
    assert not planned_today(0, set(), THURSDAY)  # nothing prescribed


def near_noon() -> str:
    """A zone where it is about noon now, so 'a minute ago' is today there, whenever the
    test runs (Etc/GMT-5 is UTC+5)."""
    offset = max(-12, min(14, 12 - datetime.now(UTC).hour))
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def today(client: TestClient, person: Person, tz: str) -> dict[str, Any]:
    response = client.get("/v1/me/today", headers=person.headers, params={"tz": tz})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def log(client: TestClient, person: Person, at: datetime, exercises: list[str], sets: int) -> None:
    body = session_body(PROGRAM, 1, exercises, performed_at=at)
    for entry in body["entries"]:
        entry["sets_done"] = sets
    put = client.put(f"/v1/me/sessions/{uuid.uuid4()}", headers=person.headers, json=body)
    assert put.status_code == 201, put.text


def test_today_follows_a_week_of_sessions(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    tz = near_noon()
    made = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    first = stage_slugs(client, PROGRAM, 1)[0]

    before = today(client, patient, tz)
    assert before["timezone"] == tz
    assert before["streak_days"] == 0
    [program] = before["programs"]
    assert (program["program"], program["stage"]["position"]) == (PROGRAM, 1)
    assert program["planned_today"] is True
    assert program["done_today"] is False
    exercise = program["exercises"][0]
    assert exercise["exercise"] == first
    dosage = exercise["dosage"]
    assert exercise["sets_today"] == {
        "done": 0,
        "planned": dosage["sets"] * dosage["times_per_day"],
    }
    assert exercise["times_today"] == {"done": 0, "planned": dosage["times_per_day"]}
    assert [q["instrument"] for q in program["questionnaires_due"]] == ["pain-rating"]

    now = datetime.now(UTC)
    for ago in (3, 2, 1):
        log(client, patient, now - timedelta(days=ago), [first], sets=3)
    log(client, patient, now - timedelta(minutes=1), [first], sets=2)
    answered(client, patient, Answer(made["id"], {"worst": 3, "average": 2}))

    after = today(client, patient, tz)
    assert after["streak_days"] == 4
    [program] = after["programs"]
    assert program["done_today"] is True
    assert program["questionnaires_due"] == []
    by_slug = {e["exercise"]: e for e in program["exercises"]}
    assert by_slug[first]["sets_today"]["done"] == 2  # today's only, not the week's
    assert by_slug[first]["times_today"]["done"] == 1
    others = [e for slug, e in by_slug.items() if slug != first]
    assert all(e["sets_today"]["done"] == 0 for e in others)


def test_today_is_private_and_checks_the_zone(client: TestClient, member: Person) -> None:
    assert client.get("/v1/me/today").status_code == 401
    empty = today(client, member, "Europe/London")
    assert (empty["programs"], empty["streak_days"]) == ([], 0)
    unknown = client.get("/v1/me/today", headers=member.headers, params={"tz": "Mars/Olympus"})
    assert unknown.status_code == 422
