"""Bulk Data export jobs: one row per `$export`, its files under DATA_DIR/fhir-exports/<id>/."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ExportJob(SQLModel, table=True):
    """A clinic's Bulk Data export: who asked, what for, how far it got, what it wrote.

    The id is random (it is the status URL); a cancelled or expired job's row
    and files are deleted.
    """

    __tablename__ = "fhir_export_job"

    id: str = Field(sa_type=String(32), primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", nullable=False, index=True, ondelete="CASCADE")
    # Who asked: one of the clinic's people, or one of its API clients.
    user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="CASCADE")
    api_client_id: int | None = Field(default=None, foreign_key="api_client.id", ondelete="CASCADE")
    status: ExportStatus = Field(default=ExportStatus.QUEUED, sa_type=String(16), nullable=False)
    request_url: str = Field(sa_type=String(2000), nullable=False)
    api_root: str = Field(sa_type=String(300), nullable=False)
    types: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    since: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = timestamp_field()
    heartbeat_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    progress: str | None = Field(default=None, sa_type=String(200))
    # [{"type": "Observation", "file": "Observation.ndjson", "count": 1200}, ...]
    output: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    error: str | None = Field(default=None, sa_type=String(1000))
