"""API shapes for enrollments, session logs, sync and progress."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from app.core.schemas import (
    InputModel,
    IsoDateTime,
    OutputModel,
    Slug,
    UTCDateTime,
    read_only,
)
from app.progress.models import StageChangeReason
from app.progress.rules import Criterion

Rating = Literal["easy", "moderate", "hard"]
Note = Annotated[str, Field(min_length=1, max_length=500)]
MAX_ENTRIES = 50
MAX_SYNC_BATCH = 100

# ---------------------------------------------------------------------------
# Input


class EnrollmentCreate(InputModel):
    program: Slug


class EntryIn(InputModel):
    """What was done of one exercise."""

    exercise: Slug
    sets_done: Annotated[int, Field(ge=0, le=50)]
    reps_done: Annotated[int, Field(ge=0, le=1000)] | None = None
    hold_seconds_done: Annotated[int, Field(ge=0, le=3600)] | None = None
    difficulty: Rating = Field(description="How it felt: `easy`, `moderate` or `hard`.")
    pain: Annotated[int, Field(ge=0, le=10, description="Pain during the exercise, 0-10.")]
    note: Note | None = None


SESSION_EXAMPLE: dict[str, Any] = {
    "program": "whole-leg-rehabilitation",
    "stage": 1,
    "performed_at": "2026-11-24T07:30:00+01:00",
    "entries": [
        {
            "exercise": "glute-bridge",
            "sets_done": 2,
            "reps_done": 12,
            "difficulty": "easy",
            "pain": 1,
        }
    ],
}


class SessionIn(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SESSION_EXAMPLE]})

    program: Slug
    stage: Annotated[int, Field(ge=1, le=50, description="The stage these exercises were from.")]
    performed_at: Annotated[IsoDateTime, Field(description="When, with its UTC offset.")]
    entries: Annotated[list[EntryIn], Field(min_length=1, max_length=MAX_ENTRIES)]
    note: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    # What a read of the session adds, so a GET body can be PUT back as it is.
    id: Annotated[str | UUID | None, read_only("the path names the session.")] = None
    deleted: Annotated[bool | None, read_only("whether the session was deleted.")] = None
    updated_at: Annotated[str | None, read_only("when the server last stored it.")] = None

    @model_validator(mode="after")
    def _each_exercise_once(self) -> SessionIn:
        slugs = [entry.exercise for entry in self.entries]
        if len(set(slugs)) != len(slugs):
            raise ValueError("each exercise may appear only once in a session")
        return self


class SyncItem(SessionIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "0b5f4f36-8a0e-4a43-9a3c-6d2f1e7c9b10", **SESSION_EXAMPLE}]
        }
    )

    id: Annotated[UUID, Field(strict=False, description="The client's id for this session.")]


class SyncIn(InputModel):
    """A batch of sessions. An item that fails validation is reported in its own result
    (and the rest still go through), so items are taken as objects and checked one by one."""

    sessions: Annotated[
        list[SyncItem | dict[str, Any]], Field(min_length=1, max_length=MAX_SYNC_BATCH)
    ]


# ---------------------------------------------------------------------------
# Output


class EntryOut(OutputModel):
    exercise: str
    sets_done: int
    reps_done: int | None
    hold_seconds_done: int | None
    difficulty: Rating
    pain: int
    note: str | None


class SessionOut(OutputModel):
    # `deleted` is always sent and is the feed's discriminator: required in the schema.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    deleted: Literal[False] = False
    program: str
    stage: int
    performed_at: UTCDateTime
    note: str | None
    entries: list[EntryOut]
    updated_at: UTCDateTime


class DeletedSession(OutputModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    deleted: Literal[True] = True
    deleted_at: UTCDateTime


# Not an OpenAPI discriminator: those name string values, and generated clients would type
# `deleted` as the string "false". `deleted: false | true` narrows the union just as well.
SessionChange = SessionOut | DeletedSession


class SessionFeed(OutputModel):
    """Changes since a cursor: pass `next_cursor` back as `since` to continue."""

    items: list[SessionChange]
    next_cursor: str
    has_more: bool


class SyncResult(OutputModel):
    id: str
    status: Literal["created", "replaced", "unchanged", "rejected"]
    detail: str | None = None
    errors: list[dict[str, str]] | None = None


class SyncOut(OutputModel):
    results: list[SyncResult]


class CriterionOut(OutputModel):
    criterion: Criterion
    met: bool
    current: int
    required: int
    summary: str


class EvaluationOut(OutputModel):
    can_advance: bool
    pain_hold: bool = Field(
        description="A recent pain report at or above the stage's limit holds progression."
    )
    hint: str = Field(description="What remains before the next stage.")
    criteria: list[CriterionOut]


class StageRef(OutputModel):
    position: int
    name: str


class StageChangeOut(OutputModel):
    from_stage: int | None
    to_stage: int
    reason: StageChangeReason
    changed_by: int | None
    note: str | None
    changed_at: UTCDateTime


class EnrollmentOut(OutputModel):
    program: str
    program_name: str
    current_stage: StageRef
    stage_count: int
    started_at: UTCDateTime
    stage_started_at: UTCDateTime
    completed_at: UTCDateTime | None
    assigned_by: int | None


class EnrollmentDetail(EnrollmentOut):
    evaluation: EvaluationOut | None = Field(
        description="The current stage's advance rule, criterion by criterion "
        "(null once the program is completed)."
    )
    history: list[StageChangeOut]


class PainDay(OutputModel):
    date: date
    max_pain: int


class PainTrend(OutputModel):
    days: list[PainDay]
    direction: Literal["improving", "steady", "worsening", "unknown"]


class ProgramProgress(OutputModel):
    program: str
    program_name: str
    stage: StageRef
    completed: bool
    days_at_stage: int
    sessions_last_7_days: int
    prescribed_sessions_per_week: int
    adherence: float = Field(description="Sessions in the last 7 days over the prescription, 0-1.")
    pain_trend: PainTrend
    streak_days: int = Field(description="Consecutive days, up to today, with a session.")
    pain_hold: bool


class ProgressOut(OutputModel):
    programs: list[ProgramProgress]
    as_of: datetime
    timezone: str
