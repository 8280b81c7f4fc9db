"""Enrollments: a person following a program, and the stage they have reached."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollment"
    __table_args__ = (
        UniqueConstraint("user_id", "program_id"),
        CheckConstraint("current_stage >= 1", name="current_stage_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", nullable=False, ondelete="CASCADE")
    program_id: int = Field(
        foreign_key="program.id", nullable=False, index=True, ondelete="RESTRICT"
    )
    current_stage: int = Field(default=1, nullable=False)
    started_at: datetime = timestamp_field()
    stage_started_at: datetime = timestamp_field()
    completed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
