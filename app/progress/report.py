"""`GET /v1/me/progress`: where each program stands, adherence, pain trend and streak.

Days are counted in the caller's time zone (`tz`, default UTC), so a session
at 23:30 in Auckland belongs to that evening, not to the next UTC day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.core.models import as_utc
from app.progress.evaluation import EnrollmentState, enrollment_states
from app.progress.models import SessionEntry, SessionLog
from app.progress.rules import days_at_stage
from app.progress.scope import ProgramScope

TREND_DAYS = 14
STREAK_LOOKBACK_DAYS = 366


def prescribed_per_week(program: ProgramEntry, stage_position: int) -> int:
    """Sessions a week the stage asks for: its most frequent exercise's days x times a day."""
    stage = program.stage(stage_position)
    if stage is None or not stage.items:
        return 0
    return max(
        int(item.dosage["days_per_week"]) * int(item.dosage["times_per_day"])
        for item in stage.items
    )


def pain_direction(daily: dict[date, int], today: date) -> str:
    """Compare the last 7 days' average daily worst pain with the 7 days before."""
    recent = [p for d, p in daily.items() if (today - d).days < 7]
    earlier = [p for d, p in daily.items() if 7 <= (today - d).days < TREND_DAYS]
    if not recent or not earlier:
        return "unknown"
    change = mean(recent) - mean(earlier)
    if change <= -1:
        return "improving"
    if change >= 1:
        return "worsening"
    return "steady"


def streak(days_with_sessions: set[date], today: date) -> int:
    """Consecutive days with a session, ending today (or yesterday, if today is still open)."""
    day = today if today in days_with_sessions else today - timedelta(days=1)
    count = 0
    while day in days_with_sessions:
        count += 1
        day -= timedelta(days=1)
    return count


def progress_report(
    session: Session,
    *,
    user_id: int,
    snapshot: CatalogSnapshot,
    now: datetime,
    zone: ZoneInfo,
    scope: ProgramScope,
) -> list[dict[str, Any]]:
    """Each program the reader may see: its stage, adherence, pain trend and streak."""
    states = enrollment_states(session, user_id=user_id, snapshot=snapshot, now=now, scope=scope)
    program_ids = [state.enrollment.program_id for state in states]
    if not program_ids:
        return []
    today = now.astimezone(zone).date()
    session_times: dict[int, list[datetime]] = defaultdict(list)
    for program_id, performed_at in session.exec(
        select(SessionLog.program_id, SessionLog.performed_at).where(
            SessionLog.user_id == user_id,
            col(SessionLog.program_id).in_(program_ids),
            col(SessionLog.deleted_at).is_(None),
            col(SessionLog.performed_at) >= now - timedelta(days=STREAK_LOOKBACK_DAYS),
        )
    ):
        session_times[program_id].append(as_utc(performed_at))
    worst_by_day: dict[int, dict[date, int]] = defaultdict(dict)
    for program_id, performed_at, pain in session.exec(
        select(SessionEntry.program_id, SessionEntry.performed_at, SessionEntry.pain).where(
            SessionEntry.user_id == user_id,
            col(SessionEntry.program_id).in_(program_ids),
            col(SessionEntry.performed_at) >= now - timedelta(days=TREND_DAYS + 1),
        )
    ):
        day = as_utc(performed_at).astimezone(zone).date()
        if (today - day).days < TREND_DAYS:
            days = worst_by_day[program_id]
            days[day] = max(pain, days.get(day, 0))
    return [
        _program_progress(
            state,
            session_times[state.enrollment.program_id],
            worst_by_day[state.enrollment.program_id],
            now,
            zone,
            today,
        )
        for state in states
    ]


def _program_progress(
    state: EnrollmentState,
    times: list[datetime],
    worst: dict[date, int],
    now: datetime,
    zone: ZoneInfo,
    today: date,
) -> dict[str, Any]:
    enrollment, program = state.enrollment, state.program
    stage = program.stage(enrollment.current_stage)
    last_week = sum(1 for moment in times if now - moment < timedelta(days=7))
    prescribed = prescribed_per_week(program, enrollment.current_stage)
    return {
        "program": program.slug,
        "program_name": program.name,
        "stage": {
            "position": enrollment.current_stage,
            "name": stage.name if stage else "",
        },
        "completed": enrollment.completed_at is not None,
        "days_at_stage": days_at_stage(as_utc(enrollment.stage_started_at), now),
        "sessions_last_7_days": last_week,
        "prescribed_sessions_per_week": prescribed,
        "adherence": round(min(1.0, last_week / prescribed), 2) if prescribed else 0.0,
        "pain_trend": {
            "days": [{"date": day, "max_pain": worst[day]} for day in sorted(worst)],
            "direction": pain_direction(worst, today),
        },
        "streak_days": streak({m.astimezone(zone).date() for m in times}, today),
        "pain_hold": bool(state.evaluation and state.evaluation.pain_hold),
    }
