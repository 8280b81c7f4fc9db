"""Progression tables: enrollments and their stage history, session logs and their entries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class Difficulty(StrEnum):
    EASY = "easy"
    MODERATE = "moderate"
    HARD = "hard"


class StageChangeReason(StrEnum):
    ENROLLED = "enrolled"
    RULE = "rule"
    COMPLETED = "completed"
    CLINICIAN = "clinician"


class Enrollment(SQLModel, table=True):
    """A person following a program, and the stage they have reached."""

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
    assigned_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    # The clinic that assigned it (None: the person enrolled themselves). Its staff
    # id is shown to that clinic only.
    assigned_clinic_id: int | None = Field(
        default=None, foreign_key="clinic.id", ondelete="SET NULL"
    )


class StageChange(SQLModel, table=True):
    """One move of an enrollment: who or what moved it, from where to where, and when."""

    __tablename__ = "stage_change"

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(
        foreign_key="enrollment.id", nullable=False, index=True, ondelete="CASCADE"
    )
    from_stage: int | None = Field(default=None)
    to_stage: int = Field(nullable=False)
    reason: StageChangeReason = Field(sa_type=String(16), nullable=False)
    changed_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    note: str | None = Field(default=None, sa_type=String(500))
    # The clinic whose clinician made the change: its staff and reason are shown to
    # that clinic (and the person) only.
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", ondelete="SET NULL")
    changed_at: datetime = timestamp_field()


class SessionLog(SQLModel, table=True):
    """One exercise session, keyed by the client's own UUID so a retry never duplicates it.

    A deleted session stays as a tombstone (`deleted_at`) so other devices learn
    of the deletion; `seq` orders every change of one person's sessions for sync.
    """

    __tablename__ = "session_log"
    __table_args__ = (
        UniqueConstraint("user_id", "seq"),
        Index("ix_session_log_user_program_stage", "user_id", "program_id", "stage_position"),
    )

    id: str = Field(sa_type=String(36), primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", nullable=False, ondelete="CASCADE")
    program_id: int = Field(foreign_key="program.id", nullable=False, ondelete="RESTRICT")
    stage_position: int = Field(nullable=False)
    performed_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    note: str | None = Field(default=None, sa_type=String(1000))
    seq: int = Field(nullable=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    deleted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class SessionEntry(SQLModel, table=True):
    """What was done of one exercise in a session.

    The owner, program, stage and time are copied from the session so that
    "latest rating of this exercise" and "pain this week" are index lookups
    that cost the same however long a person's history is.
    """

    __tablename__ = "session_entry"
    __table_args__ = (
        UniqueConstraint("session_id", "exercise_id"),
        CheckConstraint("pain BETWEEN 0 AND 10", name="pain_range"),
        Index(
            "ix_session_entry_latest",
            "user_id",
            "program_id",
            "stage_position",
            "exercise_id",
            "performed_at",
        ),
        Index("ix_session_entry_pain", "user_id", "program_id", "stage_position", "performed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(
        sa_type=String(36), foreign_key="session_log.id", nullable=False, ondelete="CASCADE"
    )
    user_id: int = Field(foreign_key="user_account.id", nullable=False, ondelete="CASCADE")
    program_id: int = Field(foreign_key="program.id", nullable=False, ondelete="RESTRICT")
    stage_position: int = Field(nullable=False)
    performed_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    exercise_id: int = Field(foreign_key="exercise.id", nullable=False, ondelete="RESTRICT")
    position: int = Field(nullable=False)
    sets_done: int = Field(nullable=False)
    reps_done: int | None = Field(default=None)
    hold_seconds_done: int | None = Field(default=None)
    difficulty: Difficulty = Field(sa_type=String(16), nullable=False)
    pain: int = Field(nullable=False)
    note: str | None = Field(default=None, sa_type=String(500))


class SessionSequence(SQLModel, table=True):
    """Each person's change counter for session sync.

    Bumped inside the writing transaction, so its row lock orders commits and
    a `since` cursor never skips a change that commits late.
    """

    __tablename__ = "session_sequence"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    last_seq: int = Field(default=0, nullable=False)


class ExerciseRating(SQLModel, table=True):
    """The newest rating of one exercise at one stage, per person.

    Kept in step by every session write and delete (for just the exercises
    touched), so "is every exercise rated easy?" reads a handful of rows
    however long the person's history is.
    """

    __tablename__ = "exercise_rating"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    program_id: int = Field(foreign_key="program.id", primary_key=True, ondelete="RESTRICT")
    stage_position: int = Field(primary_key=True)
    exercise_id: int = Field(foreign_key="exercise.id", primary_key=True, ondelete="RESTRICT")
    difficulty: Difficulty = Field(sa_type=String(16), nullable=False)
    performed_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    session_id: str = Field(sa_type=String(36), nullable=False)
