"""GET /v1/me/progress and the pure pieces behind it: streaks, pain trend, prescription."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.progress.report import pain_direction, streak
from tests.conftest import Person
from tests.progress.conftest import Backdate, enroll, log, now, session_body, stage_slugs

TODAY = date(2026, 11, 24)
PROGRAM = "whole-leg-rehabilitation"


def days_ago(*offsets: int) -> set[date]:
    return {TODAY - timedelta(days=n) for n in offsets}


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (set(), 0),
        (days_ago(0), 1),
        (days_ago(0, 1, 2), 3),
        (days_ago(1, 2), 2),  # today not done yet: the streak still stands
        (days_ago(0, 2, 3), 1),
        (days_ago(2, 3), 0),
    ],
)
def test_streak_counts_consecutive_days_up_to_today(days: set[date], expected: int) -> None:
    assert streak(days, TODAY) == expected


@pytest.mark.parametrize(
    ("daily", "direction"),
    [
        ({}, "unknown"),
        ({TODAY: 3}, "unknown"),
        ({TODAY: 2, TODAY - timedelta(days=8): 6}, "improving"),
        ({TODAY: 6, TODAY - timedelta(days=8): 2}, "worsening"),
        ({TODAY: 3, TODAY - timedelta(days=9): 3}, "steady"),
    ],
)
def test_pain_direction_compares_this_week_with_last(
    daily: dict[date, int], direction: str
) -> None:
    assert pain_direction(daily, TODAY) == direction


@pytest.mark.usefixtures("seeded")
class TestProgressEndpoint:
    def test_reports_stage_adherence_pain_and_streak(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, PROGRAM)
        set_stage_age(member, PROGRAM, 3.2)
        level1 = stage_slugs(client, PROGRAM, 1)
        for days, pain in ((2, 4), (1, 3), (0, 1)):
            moment = now() - timedelta(days=days)
            log(client, member, session_body(PROGRAM, 1, level1, pain=pain, performed_at=moment))
        response = client.get("/v1/me/progress", headers=member.headers)
        assert response.status_code == 200
        assert response.headers["cache-control"].startswith("private")
        (item,) = response.json()["programs"]
        assert item["program"] == PROGRAM
        assert item["stage"] == {"position": 1, "name": "Level 1"}
        assert item["days_at_stage"] == 3
        assert item["sessions_last_7_days"] == 3
        prescribed = item["prescribed_sessions_per_week"]
        assert prescribed > 0
        assert item["adherence"] == round(min(1.0, 3 / prescribed), 2)
        assert [d["max_pain"] for d in item["pain_trend"]["days"]] == [4, 3, 1]
        assert item["streak_days"] == 3
        assert item["pain_hold"] is False

    def test_days_follow_the_requested_time_zone(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, PROGRAM)
        set_stage_age(member, PROGRAM, 1)
        level1 = stage_slugs(client, PROGRAM, 1)
        log(client, member, session_body(PROGRAM, 1, level1[:1], performed_at=now()))
        for zone in ("Pacific/Auckland", "America/Los_Angeles"):
            report = client.get("/v1/me/progress", headers=member.headers, params={"tz": zone})
            (item,) = report.json()["programs"]
            local_today = now().astimezone(ZoneInfo(zone)).date()
            assert item["pain_trend"]["days"][0]["date"] == local_today.isoformat()
            assert report.json()["timezone"] == zone

    def test_an_unknown_time_zone_is_a_422(self, client: TestClient, member: Person) -> None:
        response = client.get("/v1/me/progress", headers=member.headers, params={"tz": "Mars/Base"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["parameter"] == "tz"

    def test_nothing_followed_is_an_empty_report(self, client: TestClient, member: Person) -> None:
        assert client.get("/v1/me/progress", headers=member.headers).json()["programs"] == []

    def test_progress_needs_a_sign_in(self, client: TestClient) -> None:
        assert client.get("/v1/me/progress").status_code == 401
