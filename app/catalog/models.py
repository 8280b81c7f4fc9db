"""Catalogue tables: conditions, programs, their ordered stages, exercises and dosage."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class ContentStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class BodyRegion(StrEnum):
    HIP = "hip"
    KNEE = "knee"
    ANKLE_FOOT = "ankle_foot"
    CORE = "core"
    LOWER_BACK = "lower_back"
    UPPER_BACK = "upper_back"
    SHOULDER = "shoulder"
    ARM = "arm"
    CHEST = "chest"
    NECK = "neck"
    THIGH = "thigh"
    WHOLE_LEG = "whole_leg"
    FULL_BODY = "full_body"


class Difficulty(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Sides(StrEnum):
    BILATERAL = "bilateral"
    EACH_SIDE = "each_side"


class ContentVersion(SQLModel, table=True):
    """A single row whose number every content write increases.

    Processes compare it with the version their in-memory catalogue was built
    from, so an edit made anywhere is served everywhere within a second.
    """

    __tablename__ = "content_version"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=1, nullable=False)
    updated_at: datetime = timestamp_field()


class Condition(SQLModel, table=True):
    __tablename__ = "condition"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_type=String(120), unique=True, nullable=False)
    name: str = Field(sa_type=String(200), nullable=False)
    body_region: BodyRegion = Field(sa_type=String(32), nullable=False, index=True)
    summary: str = Field(sa_type=String(500), nullable=False)
    description: str = Field(nullable=False)
    symptoms: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    causes: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    disclaimer: str = Field(nullable=False)
    status: ContentStatus = Field(
        default=ContentStatus.DRAFT, sa_type=String(16), nullable=False, index=True
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ConditionRelation(SQLModel, table=True):
    """A condition pointing its readers at another (hip pages send them to core work)."""

    __tablename__ = "condition_relation"
    __table_args__ = (CheckConstraint("condition_id <> related_id", name="not_self"),)

    condition_id: int = Field(foreign_key="condition.id", primary_key=True, ondelete="CASCADE")
    related_id: int = Field(foreign_key="condition.id", primary_key=True, ondelete="CASCADE")
    position: int = Field(default=0, nullable=False)


class Program(SQLModel, table=True):
    __tablename__ = "program"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_type=String(120), unique=True, nullable=False)
    name: str = Field(sa_type=String(200), nullable=False)
    description: str = Field(nullable=False)
    status: ContentStatus = Field(
        default=ContentStatus.DRAFT, sa_type=String(16), nullable=False, index=True
    )
    # A program a clinic built for its own patients; None for the public catalogue.
    # Such a program is never listed publicly and only its clinic and the patients
    # it was assigned to can read it.
    clinic_id: int | None = Field(
        default=None, foreign_key="clinic.id", ondelete="RESTRICT", index=True
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ProgramCondition(SQLModel, table=True):
    __tablename__ = "program_condition"

    program_id: int = Field(foreign_key="program.id", primary_key=True, ondelete="CASCADE")
    condition_id: int = Field(
        foreign_key="condition.id", primary_key=True, ondelete="CASCADE", index=True
    )
    position: int = Field(default=0, nullable=False)


class Stage(SQLModel, table=True):
    """One ordered step of a program, with the rule for moving past it."""

    __tablename__ = "stage"
    __table_args__ = (
        UniqueConstraint("program_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("min_days >= 0 AND min_sessions >= 0", name="minimums_not_negative"),
        CheckConstraint("max_pain BETWEEN 1 AND 10", name="max_pain_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", nullable=False, ondelete="CASCADE")
    position: int = Field(nullable=False)
    name: str = Field(sa_type=String(200), nullable=False)
    guidance: str = Field(nullable=False)
    min_days: int = Field(default=0, nullable=False)
    min_sessions: int = Field(default=0, nullable=False)
    all_exercises_easy: bool = Field(default=False, nullable=False)
    max_pain: int = Field(default=6, nullable=False)


class Exercise(SQLModel, table=True):
    """An exercise: a public teaser and the premium content behind the lock."""

    __tablename__ = "exercise"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_type=String(120), unique=True, nullable=False)
    # Teaser: always public.
    name: str = Field(sa_type=String(200), nullable=False)
    summary: str = Field(sa_type=String(500), nullable=False)
    thumbnail: str | None = Field(default=None, sa_type=String(300))
    body_regions: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    muscles: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    equipment: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    difficulty: Difficulty = Field(sa_type=String(16), nullable=False)
    # Premium: only in unlocked payloads.
    video: str | None = Field(default=None, sa_type=String(300))
    instructions: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    cues: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    mistakes: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    precautions: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # Where an imported exercise came from; authored content has neither.
    source: str | None = Field(default=None, sa_type=String(64))
    external_id: str | None = Field(default=None, sa_type=String(200))
    status: ContentStatus = Field(
        default=ContentStatus.DRAFT, sa_type=String(16), nullable=False, index=True
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class StageExercise(SQLModel, table=True):
    """An exercise placed in a stage, with the dosage prescribed there."""

    __tablename__ = "stage_exercise"
    __table_args__ = (
        UniqueConstraint("stage_id", "exercise_id"),
        UniqueConstraint("stage_id", "position"),
        CheckConstraint("sets >= 1", name="sets_positive"),
        CheckConstraint("times_per_day >= 1", name="times_per_day_positive"),
        CheckConstraint("days_per_week BETWEEN 1 AND 7", name="days_per_week_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stage_id: int = Field(foreign_key="stage.id", nullable=False, ondelete="CASCADE")
    exercise_id: int = Field(
        foreign_key="exercise.id", nullable=False, ondelete="RESTRICT", index=True
    )
    position: int = Field(nullable=False)
    sets: int = Field(nullable=False)
    reps: int | None = Field(default=None)
    hold_seconds: int | None = Field(default=None)
    sides: Sides = Field(default=Sides.BILATERAL, sa_type=String(16), nullable=False)
    times_per_day: int = Field(default=1, nullable=False)
    days_per_week: int = Field(default=7, nullable=False)
    notes: str | None = Field(default=None, sa_type=String(500))
