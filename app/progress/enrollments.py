"""A person's enrollments as stored: which programs they follow, and each one's history.

No FastAPI here. Every list a reader gets about a person takes the reader's
`ProgramScope`, the one visibility filter (`app.progress.scope`).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.core.errors import NotFoundError
from app.progress.models import (
    Enrollment,
    StageChange,
)
from app.progress.scope import ProgramScope


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


def history(session: Session, enrollment_id: int) -> list[StageChange]:
    return list(
        session.exec(
            select(StageChange)
            .where(StageChange.enrollment_id == enrollment_id)
            .order_by(col(StageChange.changed_at), col(StageChange.id))
        )
    )
