"""Outcome tables: instrument versions, what a clinic scheduled, and people's responses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Float, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class InstrumentStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Instrument(SQLModel, table=True):
    """One version of an instrument. A published version never changes: responses
    keep pointing at the version they answered, and are scored by it."""

    __tablename__ = "instrument"
    __table_args__ = (
        UniqueConstraint("slug", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_type=String(120), nullable=False, index=True)
    version: int = Field(nullable=False)
    status: InstrumentStatus = Field(sa_type=String(16), nullable=False)
    title: str = Field(sa_type=String(200), nullable=False)
    # The `InstrumentDefinition` as JSON: items, options and the scoring rule.
    definition: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    created_at: datetime = timestamp_field()
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ScheduleKind(StrEnum):
    AT_ENROLLMENT = "at_enrollment"
    EVERY_N_DAYS = "every_n_days"
    AT_STAGE_CHANGE = "at_stage_change"


class QuestionnaireSchedule(SQLModel, table=True):
    """An instrument a clinic asked one patient to answer, tied to one of their programs."""

    __tablename__ = "questionnaire_schedule"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "instrument_slug", "kind"),
        CheckConstraint(
            "(kind = 'every_n_days') = (every_days IS NOT NULL)", name="every_days_for_interval"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", nullable=False, index=True, ondelete="CASCADE"
    )
    enrollment_id: int = Field(foreign_key="enrollment.id", nullable=False, ondelete="CASCADE")
    # Copied from the enrollment so the clinic visibility filter applies in one condition.
    program_id: int = Field(foreign_key="program.id", nullable=False, ondelete="RESTRICT")
    instrument_slug: str = Field(sa_type=String(120), nullable=False)
    kind: ScheduleKind = Field(sa_type=String(16), nullable=False)
    every_days: int | None = Field(default=None)
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", ondelete="SET NULL")
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()


class OutcomeResponse(SQLModel, table=True):
    """A person's answers to one instrument version, keyed by the app's own UUID, with the
    scores the server computed when it arrived."""

    __tablename__ = "outcome_response"
    __table_args__ = (
        Index("ix_outcome_response_user_program_slug", "user_id", "program_id", "instrument_slug"),
    )

    id: str = Field(sa_type=String(36), primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", nullable=False, ondelete="CASCADE")
    program_id: int = Field(foreign_key="program.id", nullable=False, ondelete="RESTRICT")
    schedule_id: int | None = Field(
        default=None, foreign_key="questionnaire_schedule.id", ondelete="SET NULL"
    )
    instrument_id: int = Field(foreign_key="instrument.id", nullable=False, ondelete="RESTRICT")
    instrument_slug: str = Field(sa_type=String(120), nullable=False)
    answered_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    # [{"item": key, "value": n, "label": text?}] as sent, and
    # {scale: {"value": n | null, "answered": n, "of": n}} as scored by this version.
    answers: list[dict[str, Any]] = Field(sa_type=JSON, nullable=False)
    scores: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    total: float | None = Field(default=None, sa_type=Float)
    created_at: datetime = timestamp_field()


class AdherenceWatch(SQLModel, table=True):
    """A clinic's threshold: `adherence.low` fires when a patient's 7-day adherence (%) is below."""

    __tablename__ = "adherence_watch"
    __table_args__ = (CheckConstraint("threshold BETWEEN 1 AND 100", name="threshold_range"),)

    clinic_id: int = Field(foreign_key="clinic.id", primary_key=True, ondelete="CASCADE")
    threshold: int = Field(nullable=False)
    updated_at: datetime = timestamp_field()


class AdherenceAlert(SQLModel, table=True):
    """Whether a clinic was told an enrollment's adherence is low, so it is told once, and
    again only after it recovered."""

    __tablename__ = "adherence_alert"

    clinic_id: int = Field(foreign_key="clinic.id", primary_key=True, ondelete="CASCADE")
    enrollment_id: int = Field(foreign_key="enrollment.id", primary_key=True, ondelete="CASCADE")
    low: bool = Field(nullable=False)
    changed_at: datetime = timestamp_field()


class Reminder(SQLModel, table=True):
    """A person's reminder: a local time on some weekdays in their time zone.

    `next_due_at` is the next occurrence in UTC, worked out from the local date
    each time (so a daylight-saving change neither doubles nor skips a day);
    the sweep reads only the reminders whose moment has come.
    """

    __tablename__ = "reminder"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", nullable=False, index=True, ondelete="CASCADE"
    )
    local_time: str = Field(sa_type=String(5), nullable=False)  # HH:MM
    weekdays: list[int] = Field(sa_type=JSON, nullable=False)  # 0 = Monday
    timezone: str = Field(sa_type=String(64), nullable=False)
    next_due_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False, index=True)
    created_at: datetime = timestamp_field()
