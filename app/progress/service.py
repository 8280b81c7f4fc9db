"""Enrollments and progression: the evaluation of a stage's rule, and advancing.

No FastAPI here. The catalogue comes in as the in-memory snapshot (stages,
rules and their exercises); the database is asked only for what a person did,
in a fixed number of indexed queries whatever the length of their history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot, ProgramEntry, StageEntry
from app.clinics.events import emit
from app.clinics.models import EventType
from app.core.changes import StandingChanged, record
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.models import as_utc
from app.progress.models import (
    Enrollment,
    ExerciseRating,
    SessionEntry,
    SessionLog,
    StageChange,
    StageChangeReason,
)
from app.progress.rules import PAIN_WINDOW, AdvanceRule, Evaluation, StageFacts, evaluate
from app.progress.scope import OWN, ProgramScope


class AdvanceRefusedError(ConflictError):
    """Not every criterion of the stage's rule is met; the body lists the unmet ones."""

    type = "/problems/advance-refused"


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


def program_for_person(
    session: Session, snapshot: CatalogSnapshot, slug: str, *, user_id: int
) -> ProgramEntry:
    """A public program, or a clinic's own program the person follows; 404 otherwise.

    A clinic's program the person does not follow answers exactly like one that
    does not exist. Public programs cost no query.
    """
    program = snapshot.program_by_slug.get(slug)
    if program is not None:
        return program
    program = snapshot.clinic_program_by_slug.get(slug)
    if program is not None and follows(session, user_id=user_id, program_id=program.id):
        return program
    raise NotFoundError(f"No program with slug '{slug}'.")


def follows(session: Session, *, user_id: int, program_id: int) -> bool:
    found = session.exec(
        select(Enrollment.id).where(
            Enrollment.user_id == user_id, Enrollment.program_id == program_id
        )
    ).first()
    return found is not None


# ---------------------------------------------------------------------------
# Enrollments


@dataclass(frozen=True, slots=True)
class ClinicAct:
    """A clinic acting on a patient's programs: by one of its clinicians, or by its
    API client (`user_id` None)."""

    clinic_id: int
    user_id: int | None


def enroll(
    session: Session,
    *,
    user_id: int,
    program: ProgramEntry,
    now: datetime,
    by_clinic: ClinicAct | None = None,
) -> Enrollment:
    """Start `program` at stage 1; enrolling twice is a conflict the database decides.

    `by_clinic`: a clinic assigned it; otherwise the person enrolled themselves.
    """
    enrollment = Enrollment(
        user_id=user_id,
        program_id=program.id,
        current_stage=1,
        started_at=now,
        stage_started_at=now,
        assigned_by_id=by_clinic.user_id if by_clinic else None,
        assigned_clinic_id=by_clinic.clinic_id if by_clinic else None,
    )
    try:
        with session.begin_nested():
            session.add(enrollment)
    except IntegrityError as exc:
        raise ConflictError(f"You are already enrolled in '{program.slug}'.") from exc
    assert enrollment.id is not None
    session.add(
        StageChange(
            enrollment_id=enrollment.id,
            from_stage=None,
            to_stage=1,
            reason=StageChangeReason.ENROLLED,
            changed_by_id=by_clinic.user_id if by_clinic else user_id,
            clinic_id=by_clinic.clinic_id if by_clinic else None,
            changed_at=now,
        )
    )
    session.flush()
    record(session, StandingChanged(user_id))
    return enrollment


def list_enrollments(session: Session, user_id: int, *, scope: ProgramScope) -> list[Enrollment]:
    return list(
        session.exec(
            select(Enrollment)
            .where(Enrollment.user_id == user_id, scope.rows(col(Enrollment.program_id)))
            .order_by(col(Enrollment.id))
        )
    )


def get_enrollment(
    session: Session, *, user_id: int, program: ProgramEntry, for_update: bool = False
) -> Enrollment:
    query = select(Enrollment).where(
        Enrollment.user_id == user_id, Enrollment.program_id == program.id
    )
    if for_update:
        query = query.with_for_update()
    enrollment = session.exec(query).first()
    if enrollment is None:
        raise NotFoundError(f"You are not enrolled in '{program.slug}'.")
    return enrollment


def leave(session: Session, *, user_id: int, program: ProgramEntry) -> None:
    """Stop following a program. Logged sessions are kept; enrolling again starts at stage 1."""
    enrollment = get_enrollment(session, user_id=user_id, program=program)
    session.execute(delete(Enrollment).where(col(Enrollment.id) == enrollment.id))
    record(session, StandingChanged(user_id))


def history(session: Session, enrollment_id: int) -> list[StageChange]:
    return list(
        session.exec(
            select(StageChange)
            .where(StageChange.enrollment_id == enrollment_id)
            .order_by(col(StageChange.changed_at), col(StageChange.id))
        )
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
# Advancing


def advance(
    session: Session, *, user_id: int, program: ProgramEntry, now: datetime
) -> EnrollmentState:
    """Move exactly one stage when every criterion is met; at the last stage, complete."""
    state = enrollment_state(session, user_id=user_id, program=program, now=now, for_update=True)
    enrollment = state.enrollment
    if state.evaluation is None:
        raise ConflictError(f"You have already completed '{program.slug}'.")
    if not state.evaluation.can_advance:
        unmet = state.evaluation.unmet
        raise AdvanceRefusedError(
            "Not yet: " + "; ".join(result.summary for result in unmet) + ".",
            extra={
                "unmet": [
                    {
                        "criterion": r.criterion.value,
                        "current": r.current,
                        "required": r.required,
                        "summary": r.summary,
                    }
                    for r in unmet
                ],
                "pain_hold": state.evaluation.pain_hold,
            },
        )
    from_stage = enrollment.current_stage
    last = from_stage >= len(program.stages)
    values = (
        {"completed_at": now}
        if last
        else {"current_stage": from_stage + 1, "stage_started_at": now}
    )
    # Conditional on the stage we evaluated: of two racing calls, one moves.
    moved = session.execute(
        update(Enrollment)
        .where(col(Enrollment.id) == enrollment.id, col(Enrollment.current_stage) == from_stage)
        .where(col(Enrollment.completed_at).is_(None))
        .values(**values)
        .returning(col(Enrollment.id))
    ).first()
    if moved is None:
        raise ConflictError("The stage changed while this request was running; look again.")
    _record_move(
        session,
        enrollment,
        program,
        from_stage=from_stage,
        to_stage=from_stage if last else from_stage + 1,
        reason=StageChangeReason.COMPLETED if last else StageChangeReason.RULE,
        now=now,
    )
    session.refresh(enrollment)
    return enrollment_state(session, user_id=user_id, program=program, now=now)


def set_stage(
    session: Session,
    *,
    user_id: int,
    program: ProgramEntry,
    stage: int,
    by: ClinicAct,
    reason: str,
    now: datetime,
) -> Enrollment:
    """A clinician's override of the rule: recorded in the history, and the lock follows."""
    if program.stage(stage) is None:
        raise InvalidInputError.for_field(
            "body.stage", f"'{program.slug}' has stages 1 to {len(program.stages)}."
        )
    enrollment = get_enrollment(session, user_id=user_id, program=program, for_update=True)
    from_stage = enrollment.current_stage
    enrollment.current_stage = stage
    enrollment.stage_started_at = now
    enrollment.completed_at = None
    session.add(enrollment)
    _record_move(
        session,
        enrollment,
        program,
        from_stage=from_stage,
        to_stage=stage,
        reason=StageChangeReason.CLINICIAN,
        now=now,
        by=by,
        note=reason,
    )
    return enrollment


def _record_move(
    session: Session,
    enrollment: Enrollment,
    program: ProgramEntry,
    *,
    from_stage: int,
    to_stage: int,
    reason: StageChangeReason,
    now: datetime,
    by: ClinicAct | None = None,
    note: str | None = None,
) -> None:
    """The history entry, the `stage.advanced` event and the change record of any move."""
    assert enrollment.id is not None
    session.add(
        StageChange(
            enrollment_id=enrollment.id,
            from_stage=from_stage,
            to_stage=to_stage,
            reason=reason,
            changed_by_id=by.user_id if by else None,
            clinic_id=by.clinic_id if by else None,
            note=note,
            changed_at=now,
        )
    )
    session.flush()
    emit(
        session,
        patient_id=enrollment.user_id,
        event_type=EventType.STAGE_ADVANCED,
        data={
            "program": program.slug,
            "from_stage": from_stage,
            "to_stage": to_stage,
            "completed": reason == StageChangeReason.COMPLETED,
            "by": "clinician" if by else "rule",
        },
        clinic_id=program.clinic_id,  # a clinic's own program: news for that clinic only
        now=now,
    )
    record(session, StandingChanged(enrollment.user_id))


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
