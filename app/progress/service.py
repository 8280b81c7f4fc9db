"""Progression queries. (Enrollment rules and session logs build on these.)"""

from __future__ import annotations

from sqlmodel import Session, select

from app.progress.models import Enrollment


def current_stages(session: Session, user_id: int) -> dict[int, int]:
    """The stage position the person has reached in each program they follow (one query)."""
    rows = session.exec(
        select(Enrollment.program_id, Enrollment.current_stage).where(Enrollment.user_id == user_id)
    ).all()
    return dict(rows)
