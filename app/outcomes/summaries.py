"""Adherence and the latest outcome scores of many people at once, for a clinic's patient list.

A fixed number of queries whatever the number of patients, each through the
reader's `ProgramScope`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.catalog.models import Program
from app.core.models import as_utc
from app.outcomes.adherence import WINDOWS, Adherence, adherence
from app.outcomes.instruments import definition_of
from app.outcomes.models import Instrument, OutcomeResponse
from app.outcomes.scoring import Change, compare
from app.progress.evaluation import EnrollmentState
from app.progress.models import SessionLog
from app.progress.report import prescribed_per_week
from app.progress.scope import ProgramScope


def adherence_of_people(
    session: Session,
    *,
    states: dict[int, list[EnrollmentState]],
    now: datetime,
    scope: ProgramScope,
) -> dict[tuple[int, int], dict[int, Adherence]]:
    """Per (person, program): adherence over each of `WINDOWS` days."""
    user_ids = list(states)
    times: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    if user_ids:
        for user_id, program_id, performed_at in session.exec(
            select(SessionLog.user_id, SessionLog.program_id, SessionLog.performed_at).where(
                col(SessionLog.user_id).in_(user_ids),
                col(SessionLog.deleted_at).is_(None),
                col(SessionLog.performed_at) >= now - timedelta(days=max(WINDOWS)),
                scope.rows(col(SessionLog.program_id)),
            )
        ):
            times[(user_id, program_id)].append(as_utc(performed_at))
    found: dict[tuple[int, int], dict[int, Adherence]] = {}
    for user_id, user_states in states.items():
        for state in user_states:
            enrollment = state.enrollment
            key = (user_id, enrollment.program_id)
            per_week = prescribed_per_week(state.program, enrollment.current_stage)
            found[key] = {
                days: adherence(
                    session_times=times[key],
                    per_week=per_week,
                    started_at=as_utc(enrollment.started_at),
                    now=now,
                    days=days,
                )
                for days in WINDOWS
            }
    return found


@dataclass(frozen=True, slots=True)
class LatestOutcome:
    instrument: str
    program: str
    score: float
    answered_at: datetime
    change: Change | None


def latest_outcomes_of_people(
    session: Session, *, user_ids: list[int], scope: ProgramScope
) -> dict[int, list[LatestOutcome]]:
    """Per person: the latest score of each instrument in each program, with its change."""
    if not user_ids:
        return {}
    rows = session.exec(
        select(OutcomeResponse, Program.slug)
        .join(Program, col(Program.id) == OutcomeResponse.program_id)
        .where(
            col(OutcomeResponse.user_id).in_(user_ids),
            col(OutcomeResponse.total).is_not(None),
            scope.rows(col(OutcomeResponse.program_id)),
        )
        .order_by(col(OutcomeResponse.answered_at), col(OutcomeResponse.created_at))
    ).all()
    first: dict[tuple[int, str, str], OutcomeResponse] = {}
    last: dict[tuple[int, str, str], tuple[OutcomeResponse, str]] = {}
    for response, program in rows:
        key = (response.user_id, program, response.instrument_slug)
        first.setdefault(key, response)
        last[key] = (response, program)
    instruments: dict[int, Instrument | None] = {}
    found: dict[int, list[LatestOutcome]] = defaultdict(list)
    for key, (response, program) in sorted(last.items()):
        assert response.total is not None
        baseline = first[key]
        change = None
        if baseline.id != response.id and baseline.total is not None:
            if response.instrument_id not in instruments:
                instruments[response.instrument_id] = session.get(
                    Instrument, response.instrument_id
                )
            instrument = instruments[response.instrument_id]
            assert instrument is not None
            scoring = definition_of(instrument).scoring
            change = compare(
                baseline=baseline.total,
                current=response.total,
                better=scoring.better,
                mcid=scoring.mcid,
            )
        found[response.user_id].append(
            LatestOutcome(
                instrument=response.instrument_slug,
                program=program,
                score=response.total,
                answered_at=as_utc(response.answered_at),
                change=change,
            )
        )
    return found
