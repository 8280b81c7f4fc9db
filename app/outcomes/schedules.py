"""What a clinic asked a patient to answer, and what is due now.

Due rules, per schedule:
- `at_enrollment`: once, until answered;
- `every_n_days`: when never answered, or the last answer is N days old;
- `at_stage_change`: when the program's stage changed after both the schedule
  was made and the last answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.catalog.models import Program
from app.core.changes import StandingChanged, record
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.models import as_utc
from app.outcomes.instruments import latest_published
from app.outcomes.models import Instrument, OutcomeResponse, QuestionnaireSchedule, ScheduleKind
from app.outcomes.schemas import ScheduleIn
from app.progress.models import Enrollment
from app.progress.scope import ProgramScope


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    schedule: QuestionnaireSchedule
    program: str


def create(
    session: Session,
    *,
    user_id: int,
    scope: ProgramScope,
    body: ScheduleIn,
    clinic_id: int,
    created_by_id: int | None,
    now: datetime,
) -> ScheduleRow:
    """Schedule a published instrument for one of the patient's programs."""
    if (body.kind is ScheduleKind.EVERY_N_DAYS) != (body.every_days is not None):
        raise InvalidInputError.for_field(
            "body.every_days", "every_days is required for every_n_days, and only for it."
        )
    enrollment = session.exec(
        select(Enrollment)
        .join(Program, col(Program.id) == Enrollment.program_id)
        .where(
            col(Enrollment.user_id) == user_id,
            col(Program.slug) == body.program,
            scope.rows(col(Enrollment.program_id)),
        )
    ).first()
    if enrollment is None or enrollment.id is None:
        raise NotFoundError(f"The patient does not follow {body.program!r}.")
    if latest_published(session, body.instrument) is None:
        raise NotFoundError(f"No published instrument {body.instrument!r}.")
    taken = session.exec(
        select(QuestionnaireSchedule.id).where(
            col(QuestionnaireSchedule.enrollment_id) == enrollment.id,
            col(QuestionnaireSchedule.instrument_slug) == body.instrument,
            col(QuestionnaireSchedule.kind) == body.kind,
        )
    ).first()
    if taken is not None:
        raise ConflictError(f"{body.instrument!r} is scheduled {body.kind.value} already.")
    schedule = QuestionnaireSchedule(
        user_id=user_id,
        enrollment_id=enrollment.id,
        program_id=enrollment.program_id,
        instrument_slug=body.instrument,
        kind=body.kind,
        every_days=body.every_days,
        clinic_id=clinic_id,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(schedule)
    session.flush()
    record(session, StandingChanged(user_id))  # what is due, on the home screen
    return ScheduleRow(schedule, body.program)


def of_person(session: Session, *, user_id: int, scope: ProgramScope) -> list[ScheduleRow]:
    rows = session.exec(
        select(QuestionnaireSchedule, Program.slug)
        .join(Program, col(Program.id) == QuestionnaireSchedule.program_id)
        .where(
            col(QuestionnaireSchedule.user_id) == user_id,
            scope.rows(col(QuestionnaireSchedule.program_id)),
        )
        .order_by(col(QuestionnaireSchedule.id))
    ).all()
    return [ScheduleRow(schedule, slug) for schedule, slug in rows]


def get_own(session: Session, *, user_id: int, schedule_id: int) -> QuestionnaireSchedule:
    found = session.get(QuestionnaireSchedule, schedule_id)
    if found is None or found.user_id != user_id:
        raise NotFoundError("No such questionnaire.")
    return found


@dataclass(frozen=True, slots=True)
class Due:
    schedule: QuestionnaireSchedule
    program: str
    instrument: Instrument
    reason: str


def due(session: Session, *, user_id: int, now: datetime) -> list[Due]:
    """The person's questionnaires due now, oldest schedule first (a fixed number of queries)."""
    rows = session.exec(
        select(QuestionnaireSchedule, Program.slug, Enrollment.stage_started_at)
        .join(Program, col(Program.id) == QuestionnaireSchedule.program_id)
        .join(Enrollment, col(Enrollment.id) == QuestionnaireSchedule.enrollment_id)
        .where(
            col(QuestionnaireSchedule.user_id) == user_id,
            col(Enrollment.completed_at).is_(None),
        )
        .order_by(col(QuestionnaireSchedule.id))
    ).all()
    if not rows:
        return []
    last_answers = dict(
        session.exec(
            select(OutcomeResponse.schedule_id, func.max(OutcomeResponse.answered_at))
            .where(
                col(OutcomeResponse.user_id) == user_id,
                col(OutcomeResponse.schedule_id).is_not(None),
            )
            .group_by(col(OutcomeResponse.schedule_id))
        ).all()
    )
    found: list[Due] = []
    versions: dict[str, Instrument | None] = {}
    for schedule, program, stage_started in rows:
        last = last_answers.get(schedule.id)
        reason = _reason(
            schedule, None if last is None else as_utc(last), as_utc(stage_started), now
        )
        if reason is None:
            continue
        slug = schedule.instrument_slug
        if slug not in versions:
            versions[slug] = latest_published(session, slug)
        instrument = versions[slug]
        if instrument is not None:
            found.append(Due(schedule, program, instrument, reason))
    return found


def _reason(
    schedule: QuestionnaireSchedule, last: datetime | None, stage_started: datetime, now: datetime
) -> str | None:
    """Why the schedule is due now, or None when it is not."""
    if schedule.kind == ScheduleKind.AT_ENROLLMENT:
        return "at enrollment" if last is None else None
    if schedule.kind == ScheduleKind.EVERY_N_DAYS:
        assert schedule.every_days is not None
        if last is None:
            return "first answer"
        if now - last >= timedelta(days=schedule.every_days):
            return f"every {schedule.every_days} days"
        return None
    since = (
        max(as_utc(schedule.created_at), last) if last is not None else as_utc(schedule.created_at)
    )
    return "stage changed" if stage_started > since else None
