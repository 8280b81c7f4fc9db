"""Adherence numbers at the edges, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.outcomes.adherence import Adherence, adherence

NOW = datetime(2026, 3, 30, 18, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=200)


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


def test_sessions_against_the_prescription_over_7_and_28_days() -> None:
    times = days_ago(0.1, 2, 4, 9, 15, 27, 29)  # 29 days ago is outside both
    week = adherence(session_times=times, per_week=5, started_at=LONG_AGO, now=NOW, days=7)
    assert week == Adherence(days=7, sessions=3, planned=5, percent=60)
    month = adherence(session_times=times, per_week=5, started_at=LONG_AGO, now=NOW, days=28)
    assert month == Adherence(days=28, sessions=6, planned=20, percent=30)


def test_a_week_with_more_sessions_than_planned_is_100_percent_with_the_real_count() -> None:
    times = days_ago(0.5, 1, 1.5, 2, 3)
    week = adherence(session_times=times, per_week=3, started_at=LONG_AGO, now=NOW, days=7)
    assert week == Adherence(days=7, sessions=5, planned=3, percent=100)


def test_no_prescription_gives_counts_but_no_percentage() -> None:
    week = adherence(session_times=days_ago(1), per_week=0, started_at=LONG_AGO, now=NOW, days=7)
    assert week == Adherence(days=7, sessions=1, planned=None, percent=None)


def test_nothing_done_is_zero() -> None:
    week = adherence(session_times=[], per_week=7, started_at=LONG_AGO, now=NOW, days=7)
    assert week.percent == 0


def test_a_new_enrollment_is_measured_over_the_days_since_it_started() -> None:
    started = NOW - timedelta(days=2, hours=3)  # the third day of the program
    month = adherence(session_times=days_ago(1), per_week=7, started_at=started, now=NOW, days=28)
    assert month == Adherence(days=28, sessions=1, planned=3, percent=33)
    first_day = adherence(
        session_times=[], per_week=3, started_at=NOW - timedelta(hours=1), now=NOW, days=7
    )
    assert first_day.planned == 1  # at least one session is asked of any day
