"""The audit trail: who changed what, when, and what it was before and after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class AuditKind(StrEnum):
    """What an entry is about: a piece of content, or an account an operator managed."""

    CONDITION = "condition"
    EXERCISE = "exercise"
    PROGRAM = "program"
    USER = "user"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UPLOAD = "upload"
    SIGN_OUT = "sign_out"


class AuditEntry(SQLModel, table=True):
    """One change by an admin or a clinic: content, or an account an operator managed.

    Entries are only ever added, never edited or removed, with one exception: when an
    actor's account is erased, their email here becomes a placeholder.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_kind_slug", "kind", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    # The actor's email is kept as written at the time, so the trail still reads
    # correctly after the account changes its address (erasure replaces it).
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
