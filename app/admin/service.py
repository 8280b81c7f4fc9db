"""Content management rules: the audit trail (more to come alongside the admin routes)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.admin.models import AuditAction, AuditEntry
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
