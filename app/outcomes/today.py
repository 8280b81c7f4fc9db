"""`GET /v1/me/today`: the app's home screen, in one request and a fixed number of queries.

Per program in progress: the stage's exercises with their dosage and how much of
today's sets and times are done, whether today is a planned day, the
questionnaires due; and the person's streak. Days are the caller's (`tz`).

A planned day: a stage done every day (`days_per_week` 7) plans every day;
otherwise today is planned while this week (Monday to yesterday, local) has
had fewer days with a session than the stage's `days_per_week`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot, StageEntry
from app.core.models import as_utc
from app.outcomes import schedules
from app.outcomes.present import due_out
from app.progress.models import Enrollment, SessionEntry, SessionLog
from app.progress.report import STREAK_LOOKBACK_DAYS, streak


def today_view(
    session: Session, *, user_id: int, snapshot: CatalogSnapshot, now: datetime, zone: ZoneInfo
) -> dict[str, Any]:
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(), zone).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(), zone).astimezone(UTC)
    enrollments = session.exec(
        select(Enrollment)
        .where(col(Enrollment.user_id) == user_id, col(Enrollment.completed_at).is_(None))
        .order_by(col(Enrollment.started_at), col(Enrollment.id))
    ).all()
    days_by_program: dict[int, set[date]] = defaultdict(set)
    for program_id, performed_at in session.exec(
        select(SessionLog.program_id, SessionLog.performed_at).where(
            col(SessionLog.user_id) == user_id,
            col(SessionLog.deleted_at).is_(None),
            col(SessionLog.performed_at) >= now - timedelta(days=STREAK_LOOKBACK_DAYS),
        )
    ):
        days_by_program[program_id].add(as_utc(performed_at).astimezone(zone).date())
    done: dict[tuple[int, int, int], list[int]] = defaultdict(list)  # (program, stage, exercise)
    sessions_of: dict[tuple[int, int, int], set[str]] = defaultdict(set)
    # Five columns: past sqlmodel's typed `select` overloads, so SQLAlchemy's own.
    for program_id, stage, exercise_id, session_id, sets_done in session.execute(
        sa_select(
            col(SessionEntry.program_id),
            col(SessionEntry.stage_position),
            col(SessionEntry.exercise_id),
            col(SessionEntry.session_id),
            col(SessionEntry.sets_done),
        ).where(
            col(SessionEntry.user_id) == user_id,
            col(SessionEntry.performed_at) >= start,
            col(SessionEntry.performed_at) < end,
        )
    ):
        done[(program_id, stage, exercise_id)].append(sets_done)
        sessions_of[(program_id, stage, exercise_id)].add(session_id)
    due_by_program: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for due in schedules.due(session, user_id=user_id, now=now):
        due_by_program[due.program].append(due_out(due).model_dump(mode="json"))
    programs = []
    for enrollment in enrollments:
        program = snapshot.program_by_id.get(enrollment.program_id)
        stage = program.stage(enrollment.current_stage) if program else None
        if program is None or stage is None:
            continue
        exercises = [
            _exercise(item.dosage, item.exercise.slug, item.exercise.name, key, done, sessions_of)
            for item in stage.items
            for key in [(program.id, stage.position, item.exercise.id)]
        ]
        days = days_by_program[program.id]
        programs.append(
            {
                "program": program.slug,
                "program_name": program.name,
                "stage": {"position": stage.position, "name": stage.name},
                "planned_today": _planned(stage, days, today),
                "done_today": today in days,
                "exercises": exercises,
                "questionnaires_due": due_by_program.get(program.slug, []),
            }
        )
    all_days = set().union(*days_by_program.values()) if days_by_program else set()
    return {
        "date": today.isoformat(),
        "timezone": str(zone),
        "streak_days": streak(all_days, today),
        "programs": programs,
    }


def _exercise(
    dosage: dict[str, Any],
    slug: str,
    name: str,
    key: tuple[int, int, int],
    done: dict[tuple[int, int, int], list[int]],
    sessions_of: dict[tuple[int, int, int], set[str]],
) -> dict[str, Any]:
    times = int(dosage.get("times_per_day") or 1)
    sets = int(dosage.get("sets") or 1)
    return {
        "exercise": slug,
        "name": name,
        "dosage": dosage,
        "sets_today": {"done": sum(done.get(key, [])), "planned": sets * times},
        "times_today": {"done": len(sessions_of.get(key, ())), "planned": times},
    }


def _planned(stage: StageEntry, days: set[date], today: date) -> bool:
    per_week = max((int(item.dosage.get("days_per_week") or 7) for item in stage.items), default=0)
    return planned_today(per_week, days, today)


def planned_today(per_week: int, days: set[date], today: date) -> bool:
    """Whether `today` is a planned day for a stage done `per_week` days a week, given the
    local `days` that had a session."""
    if per_week <= 0:
        return False
    if per_week >= 7:
        return True
    monday = today - timedelta(days=today.weekday())
    done_this_week = sum(1 for day in days if monday <= day < today)
    return done_this_week < per_week
