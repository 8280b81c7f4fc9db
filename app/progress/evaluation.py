"""Where each enrollment stands: its current stage's rule, evaluated against what was done.

No FastAPI here. The catalogue comes in as the in-memory snapshot (stages,
rules and their exercises); the database is asked only for what people did,
in a fixed number of indexed queries whatever the length of their history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot, ProgramEntry, StageEntry
from app.core.models import as_utc
from app.progress.enrollments import get_enrollment, list_enrollments
from app.progress.models import (
    Enrollment,
    ExerciseRating,
    SessionEntry,
    SessionLog,
)
from app.progress.rules import PAIN_WINDOW, AdvanceRule, Evaluation, StageFacts, evaluate
from app.progress.scope import OWN, ProgramScope


@dataclass(frozen=True, slots=True)
class EnrollmentState:
    enrollment: Enrollment
    program: ProgramEntry
    evaluation: Evaluation | None  # None once the program is completed


def rule_of(stage: StageEntry) -> AdvanceRule:
    return AdvanceRule(
        min_days=stage.rule["min_days"],
        min_sessions=stage.rule["min_sessions"],
        all_exercises_easy=stage.rule["all_exercises_easy"],
        max_pain=stage.rule["max_pain"],
    )


# ---------------------------------------------------------------------------
# Evaluation


StageKey = tuple[int, int, int]  # (user id, program id, stage position)


# A session the phone stamped a moment before the server recorded the stage start
# (whole-second timestamps, a phone clock a little behind) still belongs to the
# stage; a minute covers both without reaching back to an earlier enrollment.
STAGE_START_TOLERANCE = timedelta(minutes=1)


def load_facts(
    session: Session, enrollments: Iterable[tuple[Enrollment, StageEntry]], now: datetime
) -> dict[int, StageFacts]:
    """What each enrollment's person did at their current stage.

    Three queries for any number of enrollments (of one person or of a clinic's
    patients), each bounded by the catalogue and the time window, never by
    the length of anyone's history.
    """
    pairs = [(e, stage) for e, stage in enrollments if e.id is not None]
    if not pairs:
        return {}
    started: dict[StageKey, datetime] = {
        (e.user_id, e.program_id, e.current_stage): e.stage_started_at - STAGE_START_TOLERANCE
        for e, _ in pairs
    }
    user_ids = sorted({user_id for user_id, _, _ in started})
    program_ids = sorted({program_id for _, program_id, _ in started})

    at_stage = or_(
        *(
            and_(
                col(SessionLog.user_id) == user_id,
                col(SessionLog.program_id) == program_id,
                col(SessionLog.stage_position) == stage,
                col(SessionLog.performed_at) >= since,
            )
            for (user_id, program_id, stage), since in started.items()
        )
    )
    counts: dict[StageKey, int] = {
        (user_id, program_id, stage): count
        for user_id, program_id, stage, count in session.exec(
            select(
                SessionLog.user_id, SessionLog.program_id, SessionLog.stage_position, func.count()
            )
            .where(col(SessionLog.deleted_at).is_(None), at_stage)
            .group_by(
                col(SessionLog.user_id), col(SessionLog.program_id), col(SessionLog.stage_position)
            )
        )
    }

    latest = _latest_ratings(session, user_ids, program_ids, started)

    pain: dict[StageKey, int] = {
        (user_id, program_id, stage): worst
        for user_id, program_id, stage, worst in session.exec(
            select(
                SessionEntry.user_id,
                SessionEntry.program_id,
                SessionEntry.stage_position,
                func.max(SessionEntry.pain),
            )
            .where(
                or_(
                    *(
                        and_(
                            col(SessionEntry.user_id) == user_id,
                            col(SessionEntry.program_id) == program_id,
                            col(SessionEntry.stage_position) == stage,
                            col(SessionEntry.performed_at) >= now - PAIN_WINDOW,
                        )
                        for user_id, program_id, stage in started
                    )
                )
            )
            .group_by(
                col(SessionEntry.user_id),
                col(SessionEntry.program_id),
                col(SessionEntry.stage_position),
            )
        )
    }

    facts: dict[int, StageFacts] = {}
    for enrollment, stage in pairs:
        key = (enrollment.user_id, enrollment.program_id, enrollment.current_stage)
        assert enrollment.id is not None
        facts[enrollment.id] = StageFacts(
            stage_started_at=as_utc(enrollment.stage_started_at),
            sessions=counts.get(key, 0),
            exercise_ids=[item.exercise.id for item in stage.items],
            latest_ratings=latest.get(key, {}),
            worst_recent_pain=pain.get(key),
        )
    return facts


def _latest_ratings(
    session: Session,
    user_ids: list[int],
    program_ids: list[int],
    started: dict[StageKey, datetime],
) -> dict[StageKey, dict[int, str]]:
    """The newest rating of each exercise at each current stage, from the kept table:
    rows bounded by the catalogue, never by the length of anyone's history."""
    rows = session.exec(
        select(ExerciseRating).where(
            col(ExerciseRating.user_id).in_(user_ids),
            col(ExerciseRating.program_id).in_(program_ids),
        )
    )
    ratings: dict[StageKey, dict[int, str]] = defaultdict(dict)
    for rating in rows:
        key = (rating.user_id, rating.program_id, rating.stage_position)
        if key in started and as_utc(rating.performed_at) >= as_utc(started[key]):
            ratings[key][rating.exercise_id] = str(rating.difficulty)
    return ratings


def enrollment_states(
    session: Session,
    *,
    user_id: int,
    snapshot: CatalogSnapshot,
    now: datetime,
    scope: ProgramScope,
) -> list[EnrollmentState]:
    """Every enrollment of a person the reader may see, with its current stage's evaluation."""
    enrollments = list_enrollments(session, user_id, scope=scope)
    return states_of(enrollments, session, snapshot=snapshot, now=now)


def enrollment_states_of_people(
    session: Session,
    *,
    user_ids: list[int],
    snapshot: CatalogSnapshot,
    now: datetime,
    scope: ProgramScope,
) -> dict[int, list[EnrollmentState]]:
    """The same for several people at once (a clinic's patients): no query per person."""
    enrollments = session.exec(
        select(Enrollment)
        .where(col(Enrollment.user_id).in_(user_ids), scope.rows(col(Enrollment.program_id)))
        .order_by(col(Enrollment.user_id), col(Enrollment.id))
    ).all()
    by_person: dict[int, list[EnrollmentState]] = {user_id: [] for user_id in user_ids}
    for state in states_of(enrollments, session, snapshot=snapshot, now=now):
        by_person[state.enrollment.user_id].append(state)
    return by_person


def states_of(
    enrollments: Iterable[Enrollment],
    session: Session,
    *,
    snapshot: CatalogSnapshot,
    now: datetime,
) -> list[EnrollmentState]:
    pairs: list[tuple[Enrollment, ProgramEntry, StageEntry | None]] = []
    for enrollment in enrollments:
        program = snapshot.program_by_id.get(enrollment.program_id)
        if program is None:  # unpublished since: nothing to show
            continue
        stage = None if enrollment.completed_at else program.stage(enrollment.current_stage)
        pairs.append((enrollment, program, stage))
    facts = load_facts(session, [(e, s) for e, _, s in pairs if s is not None], now)
    return [
        EnrollmentState(
            enrollment=e,
            program=program,
            evaluation=(
                evaluate(rule_of(stage), facts[e.id or 0], now) if stage is not None else None
            ),
        )
        for e, program, stage in pairs
    ]


def enrollment_state(
    session: Session,
    *,
    user_id: int,
    program: ProgramEntry,
    now: datetime,
    for_update: bool = False,
) -> EnrollmentState:
    enrollment = get_enrollment(session, user_id=user_id, program=program, for_update=for_update)
    stage = None if enrollment.completed_at else program.stage(enrollment.current_stage)
    if stage is None:
        return EnrollmentState(enrollment, program, None)
    facts = load_facts(session, [(enrollment, stage)], now)
    return EnrollmentState(
        enrollment, program, evaluate(rule_of(stage), facts[enrollment.id or 0], now)
    )


# ---------------------------------------------------------------------------
# The viewer's unlock state


def viewer_progress(
    session: Session, *, user_id: int, snapshot: CatalogSnapshot, now: datetime
) -> tuple[dict[int, int], dict[int, str]]:
    """Stage reached per program, and what remains before the next one (for lock hints)."""
    stages: dict[int, int] = {}
    hints: dict[int, str] = {}
    states = enrollment_states(session, user_id=user_id, snapshot=snapshot, now=now, scope=OWN)
    for state in states:
        program_id = state.enrollment.program_id
        stages[program_id] = state.enrollment.current_stage
        if state.evaluation is not None:
            next_stage = state.enrollment.current_stage + 1
            hints[program_id] = f"To reach stage {next_stage}: {state.evaluation.hint()}."
    return stages, hints
