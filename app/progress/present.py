"""Rendering progression records as API shapes (shared by the person's and the clinic's routes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from app.catalog.snapshot import CatalogSnapshot
from app.progress import service
from app.progress.models import StageChange
from app.progress.schemas import EnrollmentDetail, SessionFeed, SessionOut
from app.progress.service import EnrollmentState
from app.progress.sessions import EntryWithSlug, FeedPage, StoredSession, encode_cursor


def enrollment(state: EnrollmentState) -> dict[str, Any]:
    enrollment, program = state.enrollment, state.program
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
        "assigned_by": enrollment.assigned_by_id,
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


def detail(state: EnrollmentState, changes: list[StageChange]) -> EnrollmentDetail:
    return EnrollmentDetail.model_validate(
        {
            **enrollment(state),
            "evaluation": evaluation(state),
            "history": [
                {
                    "from_stage": c.from_stage,
                    "to_stage": c.to_stage,
                    "reason": c.reason,
                    "changed_by": c.changed_by_id,
                    "note": c.note,
                    "changed_at": c.changed_at,
                }
                for c in changes
            ],
        }
    )


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


def detail_of(session: Session, state: EnrollmentState) -> EnrollmentDetail:
    assert state.enrollment.id is not None
    return detail(state, service.history(session, state.enrollment.id))


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
