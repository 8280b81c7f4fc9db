"""The audit trail: who changed which piece of content, when, and what it was before and after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UPLOAD = "upload"


class AuditEntry(SQLModel, table=True):
    """One content change. Entries are only ever added, never edited or removed."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_kind_slug", "kind", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    # The actor's email is kept as written at the time: the trail must still read
    # correctly after the account changes or goes away.
    actor_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", index=True
    )
    actor_email: str = Field(sa_type=String(320), nullable=False)
    action: AuditAction = Field(sa_type=String(16), nullable=False)
    kind: str = Field(sa_type=String(32), nullable=False)
    slug: str = Field(sa_type=String(120), nullable=False)
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", ondelete="SET NULL")
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    at: datetime = timestamp_field()
