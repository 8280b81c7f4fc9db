"""Rendering progression records as API shapes (shared by the person's and the clinic's routes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from app.catalog.snapshot import CatalogSnapshot
from app.progress import enrollments
from app.progress.evaluation import EnrollmentState
from app.progress.models import StageChange, StageChangeReason
from app.progress.schemas import EnrollmentDetail, SessionFeed, SessionOut
from app.progress.scope import ProgramScope
from app.progress.sessions.feed import FeedPage, encode_cursor
from app.progress.sessions.write import EntryWithSlug, StoredSession


def enrollment(state: EnrollmentState, scope: ProgramScope) -> dict[str, Any]:
    enrollment, program = state.enrollment, state.program
    # Who assigned it is the assigning clinic's business (and the person's).
    assigned_by = (
        enrollment.assigned_by_id
        if scope.is_own or scope.shows_staff_of(enrollment.assigned_clinic_id)
        else None
    )
    stage = program.stage(enrollment.current_stage)
    return {
        "program": program.slug,
        "program_name": program.name,
        "current_stage": {
            "position": enrollment.current_stage,
            "name": stage.name if stage else "",
        },
        "stage_count": len(program.stages),
        "started_at": enrollment.started_at,
        "stage_started_at": enrollment.stage_started_at,
        "completed_at": enrollment.completed_at,
        "assigned_by": assigned_by,
    }


def evaluation(state: EnrollmentState) -> dict[str, Any] | None:
    evaluation = state.evaluation
    if evaluation is None:
        return None
    return {
        "can_advance": evaluation.can_advance,
        "pain_hold": evaluation.pain_hold,
        "hint": evaluation.hint(),
        "criteria": [
            {
                "criterion": r.criterion,
                "met": r.met,
                "current": r.current,
                "required": r.required,
                "summary": r.summary,
            }
            for r in evaluation.criteria
        ],
    }


def detail(
    state: EnrollmentState, changes: list[StageChange], scope: ProgramScope
) -> EnrollmentDetail:
    return EnrollmentDetail.model_validate(
        {
            **enrollment(state, scope),
            "evaluation": evaluation(state),
            "history": [history_entry(change, scope) for change in changes],
        }
    )


def history_entry(change: StageChange, scope: ProgramScope) -> dict[str, Any]:
    """One stage change; a clinician's name and reason only for their own clinic's eyes."""
    by_clinic = change.reason == StageChangeReason.CLINICIAN or change.clinic_id is not None
    shown = scope.is_own or not by_clinic or scope.shows_staff_of(change.clinic_id)
    return {
        "from_stage": change.from_stage,
        "to_stage": change.to_stage,
        "reason": change.reason,
        "changed_by": change.changed_by_id if shown else None,
        "note": change.note if shown else None,
        "changed_at": change.changed_at,
    }


def session_out(
    log: StoredSession, entries: Sequence[EntryWithSlug], snapshot: CatalogSnapshot
) -> SessionOut:
    program = snapshot.program_by_id.get(log.program_id)
    return SessionOut.model_validate(
        {
            "id": log.id,
            "program": program.slug if program else str(log.program_id),
            "stage": log.stage_position,
            "performed_at": log.performed_at,
            "note": log.note,
            "updated_at": log.updated_at,
            "entries": [
                {
                    "exercise": slug,
                    "sets_done": e.sets_done,
                    "reps_done": e.reps_done,
                    "hold_seconds_done": e.hold_seconds_done,
                    "difficulty": str(e.difficulty),
                    "pain": e.pain,
                    "note": e.note,
                }
                for e, slug in entries
            ],
        }
    )


def detail_of(session: Session, state: EnrollmentState, scope: ProgramScope) -> EnrollmentDetail:
    assert state.enrollment.id is not None
    return detail(state, enrollments.history(session, state.enrollment.id), scope)


def feed(page: FeedPage, snapshot: CatalogSnapshot) -> SessionFeed:
    """A page of the change feed: sessions, and tombstones for deleted ones."""
    items: list[Any] = [
        {"id": log.id, "deleted": True, "deleted_at": log.deleted_at}
        if log.deleted_at is not None
        else session_out(log, page.entries.get(log.id, []), snapshot)
        for log in page.logs
    ]
    return SessionFeed.model_validate(
        {
            "items": items,
            "next_cursor": encode_cursor(page.next_seq),
            "has_more": page.has_more,
        }
    )
