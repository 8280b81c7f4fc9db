"""What a clinic does with its linked patients: their summaries, programs and stages.

No FastAPI here. Everything read about a patient is read through the clinic's
`ProgramScope` (`app.progress.scope`), the one visibility filter: rows about
another clinic's programs never reach this clinic, and another clinic's staff
and reasons are shown as neither. Stage changes are written by progress only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.clinics.events import emit
from app.clinics.models import EventType, PatientLink
from app.clinics.service import ClinicActor
from app.core.models import as_utc
from app.identity.models import User
from app.outcomes.adherence import Adherence
from app.outcomes.summaries import adherence_of_people, latest_outcomes_of_people
from app.progress import evaluation
from app.progress import service as progress
from app.progress.models import Enrollment, SessionEntry, SessionLog
from app.progress.scope import ProgramScope


@dataclass(frozen=True, slots=True)
class LinkedPatient:
    """A patient as one clinic may see them: linked with live consent, through its scope."""

    user: User
    clinic_id: int

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    @property
    def scope(self) -> ProgramScope:
        return ProgramScope.of_clinic(self.clinic_id)


def acting(actor: ClinicActor) -> progress.ClinicAct:
    """How progress records this clinic's act: its clinic, and its clinician if a person."""
    return progress.ClinicAct(clinic_id=actor.clinic_id, user_id=actor.actor_user_id)


@dataclass
class PatientSummary:
    user: User
    linked_at: datetime
    programs: list[dict[str, Any]] = field(default_factory=list)
    sessions_last_7_days: int = 0
    latest_pain: dict[str, Any] | None = None
    # The lowest 7-day adherence (%) of the programs in progress that prescribe anything.
    adherence_7_days: int | None = None
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pain_hold(self) -> bool:
        return any(program["pain_hold"] for program in self.programs)

    @property
    def inactive(self) -> bool:
        return self.sessions_last_7_days == 0


def patient_summaries(
    session: Session,
    *,
    clinic_id: int,
    snapshot: CatalogSnapshot,
    now: datetime,
    patient_id: int | None = None,
) -> list[PatientSummary]:
    """The linked patients (or the one asked for): programs, adherence, latest pain, holds.

    A fixed number of queries whatever the number of patients.
    """
    scope = ProgramScope.of_clinic(clinic_id)
    query = (
        select(User, PatientLink.created_at)
        .join(PatientLink, col(PatientLink.patient_id) == User.id)
        .where(PatientLink.clinic_id == clinic_id, col(PatientLink.revoked_at).is_(None))
        .order_by(col(User.display_name), col(User.id))
    )
    if patient_id is not None:
        query = query.where(User.id == patient_id)
    summaries = {
        user.id: PatientSummary(user, as_utc(linked)) for user, linked in session.exec(query).all()
    }
    user_ids = [uid for uid in summaries if uid is not None]
    if not user_ids:
        return []
    states = evaluation.enrollment_states_of_people(
        session, user_ids=user_ids, snapshot=snapshot, now=now, scope=scope
    )
    recent_counts = _sessions_last_week(session, user_ids, now, scope)
    adherence = adherence_of_people(session, states=states, now=now, scope=scope)
    for user_id, user_states in states.items():
        summary = summaries[user_id]
        for state in user_states:
            program = state.program
            count = recent_counts.get((user_id, program.id), 0)
            summary.sessions_last_7_days += count
            summary.programs.append(
                {
                    "program": program.slug,
                    "stage": state.enrollment.current_stage,
                    "stage_name": (
                        program.stage(state.enrollment.current_stage) or program.stages[0]
                    ).name,
                    "completed": state.enrollment.completed_at is not None,
                    "sessions_last_7_days": count,
                    "pain_hold": bool(state.evaluation and state.evaluation.pain_hold),
                    "adherence": {
                        f"last_{days}_days": _adherence_out(found)
                        for days, found in adherence[(user_id, program.id)].items()
                    },
                }
            )
            week = adherence[(user_id, program.id)][7].percent
            if week is not None and state.enrollment.completed_at is None:
                current = summary.adherence_7_days
                summary.adherence_7_days = week if current is None else min(current, week)
    for user_id, outcomes in latest_outcomes_of_people(
        session, user_ids=user_ids, scope=scope
    ).items():
        summaries[user_id].outcomes = [
            {
                "instrument": latest.instrument,
                "program": latest.program,
                "score": latest.score,
                "answered_at": latest.answered_at,
                "change": None if latest.change is None else latest.change.change,
                "improvement": None if latest.change is None else latest.change.improvement,
                "passes_mcid": None if latest.change is None else latest.change.passes_mcid,
            }
            for latest in outcomes
        ]
    for user_id, latest in _latest_pain(session, user_ids, now, scope).items():
        summaries[user_id].latest_pain = latest
    return list(summaries.values())


def _adherence_out(found: Adherence) -> dict[str, Any]:
    return {"sessions": found.sessions, "planned": found.planned, "percent": found.percent}


def _sessions_last_week(
    session: Session, user_ids: list[int], now: datetime, scope: ProgramScope
) -> dict[tuple[int, int], int]:
    rows = session.exec(
        select(SessionLog.user_id, SessionLog.program_id, func.count())
        .where(
            col(SessionLog.user_id).in_(user_ids),
            col(SessionLog.deleted_at).is_(None),
            col(SessionLog.performed_at) >= now - timedelta(days=7),
            scope.rows(col(SessionLog.program_id)),
        )
        .group_by(col(SessionLog.user_id), col(SessionLog.program_id))
    ).all()
    return {(user_id, program_id): count for user_id, program_id, count in rows}


def _latest_pain(
    session: Session, user_ids: list[int], now: datetime, scope: ProgramScope
) -> dict[int, dict[str, Any]]:
    """Each patient's worst pain in their latest session of the last 30 days."""
    latest: dict[int, dict[str, Any]] = {}
    for user_id, performed_at, pain in session.exec(
        select(SessionEntry.user_id, SessionEntry.performed_at, func.max(SessionEntry.pain))
        .where(
            col(SessionEntry.user_id).in_(user_ids),
            col(SessionEntry.performed_at) >= now - timedelta(days=30),
            scope.rows(col(SessionEntry.program_id)),
        )
        .group_by(col(SessionEntry.user_id), col(SessionEntry.performed_at))
    ):
        moment = as_utc(performed_at)
        if user_id not in latest or moment > latest[user_id]["at"]:
            latest[user_id] = {"value": pain, "at": moment}
    return latest


def assign_program(
    session: Session,
    *,
    actor: ClinicActor,
    patient: LinkedPatient,
    program: ProgramEntry,
    now: datetime,
) -> Enrollment:
    enrollment = progress.enroll(
        session, user_id=patient.id, program=program, now=now, by_clinic=acting(actor)
    )
    emit(
        session,
        patient_id=patient.id,
        event_type=EventType.PROGRAM_ASSIGNED,
        data={"program": program.slug, "assigned_by": actor.actor_user_id},
        clinic_id=actor.clinic_id,
        now=now,
    )
    return enrollment


def set_stage(
    session: Session,
    *,
    actor: ClinicActor,
    patient: LinkedPatient,
    program: ProgramEntry,
    stage: int,
    reason: str,
    now: datetime,
) -> Enrollment:
    """A clinician's override of the rule, written by progress like every stage change."""
    return progress.set_stage(
        session,
        user_id=patient.id,
        program=program,
        stage=stage,
        by=acting(actor),
        reason=reason,
        now=now,
    )
