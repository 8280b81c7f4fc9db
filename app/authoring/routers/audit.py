"""The content audit trail for admins: who changed what, when, before and after."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from app.authoring.audit import list_audit as audit_entries
from app.authoring.deps import LIST_ERRORS, admin_router
from app.authoring.models import AuditEntry, AuditKind
from app.authoring.schemas import AuditActor, AuditEntryOut, AuditPage
from app.core.deps import ReadSessionDep
from app.core.pagination import PageDep, envelope
from app.core.schemas import NO_NUL

router = admin_router()


# ---------------------------------------------------------------------------
# The audit trail

KindQuery = Annotated[AuditKind | None, Query(description="Only entries about this kind.")]


@router.get("/audit", name="admin_list_audit", response_model=AuditPage, responses=LIST_ERRORS)
def list_audit(
    session: ReadSessionDep,
    page: PageDep,
    kind: KindQuery = None,
    slug: Annotated[str | None, Query(max_length=120, pattern=NO_NUL)] = None,
    actor: Annotated[
        str | None, Query(max_length=320, pattern=NO_NUL, description="The actor's email.")
    ] = None,
) -> dict[str, Any]:
    """Who changed what and when, with the documents before and after; newest first."""
    entries, total = audit_entries(session, kind=kind, slug=slug, actor=actor, page=page)
    items = [_audit_item(entry) for entry in entries]
    return envelope(items, total, page)


def _audit_item(entry: AuditEntry) -> dict[str, Any]:
    assert entry.id is not None
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor=AuditActor(id=entry.actor_id, email=entry.actor_email),
        action=entry.action,
        kind=entry.kind,
        slug=entry.slug,
        clinic_id=entry.clinic_id,
        before=entry.before,
        after=entry.after,
    ).model_dump(mode="json")
