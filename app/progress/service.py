"""Enrollments and stage changes: the one writer of a person's programs and stages.

No FastAPI here. A person enrolls, leaves and advances by the rule; a clinic
assigns and overrides (`ClinicAct`). Every move is recorded in the history,
announced on the outbox and noted as a change of the person's standing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.catalog.snapshot import ProgramEntry
from app.clinics.events import emit
from app.clinics.models import EventType
from app.core.changes import StandingChanged, record
from app.core.errors import ConflictError, InvalidInputError
from app.progress.enrollments import get_enrollment
from app.progress.evaluation import EnrollmentState, enrollment_state
from app.progress.models import (
    Enrollment,
    StageChange,
    StageChangeReason,
)


class AdvanceRefusedError(ConflictError):
    """Not every criterion of the stage's rule is met; the body lists the unmet ones."""

    type = "/problems/advance-refused"


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


def leave(session: Session, *, user_id: int, program: ProgramEntry) -> None:
    """Stop following a program. Logged sessions are kept; enrolling again starts at stage 1."""
    enrollment = get_enrollment(session, user_id=user_id, program=program)
    session.execute(delete(Enrollment).where(col(Enrollment.id) == enrollment.id))
    record(session, StandingChanged(user_id))


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
