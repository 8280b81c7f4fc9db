"""The content audit trail: one entry per change, in the same transaction as the change."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from app.authoring.models import AuditAction, AuditEntry
from app.core.pagination import PageParams
from app.identity.models import User


def record_audit(
    session: Session,
    *,
    actor: User,
    action: AuditAction,
    kind: str,
    slug: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    clinic_id: int | None = None,
) -> AuditEntry:
    """Add one entry to the trail, in the same transaction as the change it describes."""
    entry = AuditEntry(
        actor_id=actor.id,
        actor_email=actor.email,
        action=action,
        kind=kind,
        slug=slug,
        clinic_id=clinic_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def list_audit(
    session: Session,
    *,
    kind: str | None,
    slug: str | None,
    actor: str | None,
    page: PageParams,
) -> tuple[Sequence[AuditEntry], int]:
    """Entries newest first, narrowed to a kind, a slug and an actor's email when given."""
    filters: list[ColumnElement[bool]] = []
    if kind is not None:
        filters.append(col(AuditEntry.kind) == kind)
    if slug is not None:
        filters.append(col(AuditEntry.slug) == slug)
    if actor is not None:
        filters.append(func.lower(col(AuditEntry.actor_email)) == actor.strip().lower())
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*filters)).one()
    entries = session.exec(
        select(AuditEntry)
        .where(*filters)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .offset(page.offset)
        .limit(page.limit)
    ).all()
    return entries, total
