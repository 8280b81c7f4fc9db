"""API shapes for outcomes: instruments, schedules, responses and what is due."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from app.core.schemas import (
    InputModel,
    IsoDateTime,
    LaxEnum,
    OutputModel,
    Page,
    ShortText,
    Slug,
    TimeZoneName,
    read_only,
)
from app.outcomes.definition import InstrumentDefinition, ItemKey
from app.outcomes.models import InstrumentStatus, ScheduleKind


class NewInstrument(InstrumentDefinition):
    slug: Slug


class InstrumentVersion(InstrumentDefinition):
    """A version as the admin API reads and writes it: the definition, and what the server
    keeps about it. A `GET` body can be `PUT` (or posted as the next version) as it is."""

    slug: Annotated[
        str | None, Field(max_length=64), read_only("the instrument, named by the path.")
    ] = None
    version: Annotated[
        int | None, Field(ge=1, le=1_000_000), read_only("the version, named by the path.")
    ] = None
    status: Annotated[InstrumentStatus | None, LaxEnum, read_only("`draft` or `published`.")] = None
    created_at: Annotated[IsoDateTime | None, read_only("when the version was made.")] = None
    published_at: Annotated[IsoDateTime | None, read_only("when it was published.")] = None


class InstrumentOut(InstrumentDefinition):
    """A version as read: its definition, and the members the server keeps about it."""

    slug: str
    version: int
    status: Annotated[InstrumentStatus, LaxEnum]
    created_at: datetime
    published_at: datetime | None


InstrumentPage = Page[InstrumentOut]


EVERY_N = ScheduleKind.EVERY_N_DAYS


class ScheduleIn(InputModel):
    # The rule `schedules.create` enforces, stated in the schema for clients and generators:
    # `every_days` with every_n_days, and only with it.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": ["kind", "every_days"],
                    "properties": {
                        "kind": {"const": EVERY_N.value},
                        "every_days": {"type": "integer"},
                    },
                },
                {
                    "properties": {
                        "kind": {"enum": [k.value for k in ScheduleKind if k != EVERY_N]},
                        "every_days": {"type": "null"},
                    },
                },
            ]
        }
    )

    instrument: Slug
    program: Slug = Field(description="The patient's program the questionnaire belongs to.")
    kind: Annotated[ScheduleKind, LaxEnum]
    every_days: int | None = Field(
        default=None, ge=1, le=365, description="Required for `every_n_days`, refused otherwise."
    )


class ScheduleOut(OutputModel):
    id: int
    instrument: str
    program: str
    kind: ScheduleKind
    every_days: int | None
    created_at: datetime


class AnswerIn(InputModel):
    item: ItemKey
    value: int = Field(ge=-100, le=100)
    label: ShortText | None = Field(
        default=None, description="What the item is about, for items the person names."
    )


class ResponseIn(InputModel):
    schedule: int = Field(ge=1, le=2**31 - 1, description="The `schedule` of a due questionnaire.")
    answered_at: IsoDateTime
    answers: list[AnswerIn] = Field(min_length=1, max_length=100)


class ScaleScore(OutputModel):
    value: float | None = Field(description="None when too few of the scale's items were answered.")
    answered: int
    of: int


class ChangeOut(OutputModel):
    baseline: float
    change: float
    improvement: float = Field(description="The change in the direction of better.")
    passes_mcid: bool | None = Field(description="None when the instrument names no MCID.")


class ResponseOut(OutputModel):
    id: str
    instrument: str
    version: int
    program: str
    schedule: int | None
    answered_at: datetime
    answers: list[dict[str, Any]]
    scores: dict[str, ScaleScore]
    change: ChangeOut | None = Field(
        description="Against the first scored response; None for that one."
    )


ResponsePage = Page[ResponseOut]


class DueQuestionnaire(OutputModel):
    schedule: int
    instrument: str
    version: int
    title: str
    program: str
    kind: ScheduleKind
    reason: str
    definition: dict[str, Any]


class DueList(OutputModel):
    items: list[DueQuestionnaire]


class ExportedQuestionnaire(OutputModel):
    instrument: str
    program: str
    kind: ScheduleKind
    every_days: int | None
    clinic_id: int | None
    created_at: datetime


class ExportedResponse(OutputModel):
    id: str
    instrument: str
    version: int
    program: str
    answered_at: datetime
    answers: list[dict[str, Any]]
    scores: dict[str, ScaleScore]


class AdherenceWatchIn(InputModel):
    threshold: int | None = Field(
        ge=1,
        le=100,
        description="`adherence.low` fires when a patient's 7-day adherence (%) falls below "
        "this; null stops it.",
    )


class AdherenceWatchOut(OutputModel):
    threshold: int | None


class Tally(OutputModel):
    done: int
    planned: int


class TodayExercise(OutputModel):
    exercise: str
    name: str
    dosage: dict[str, Any]
    sets_today: Tally = Field(description="Sets logged today; planned: sets x times a day.")
    times_today: Tally = Field(description="Sessions today that included it; planned: times a day.")


class TodayStage(OutputModel):
    position: int
    name: str


class TodayProgram(OutputModel):
    program: str
    program_name: str
    stage: TodayStage
    planned_today: bool = Field(
        description="Every day for a daily stage; otherwise while this week (Monday to "
        "yesterday) has had fewer days with a session than the stage's days_per_week."
    )
    done_today: bool
    exercises: list[TodayExercise]
    questionnaires_due: list[DueQuestionnaire]


class TodayOut(OutputModel):
    date: str = Field(description="Today, in the time zone asked for (YYYY-MM-DD).")
    timezone: str
    streak_days: int = Field(
        description="Consecutive days with a session, ending today or yesterday."
    )
    programs: list[TodayProgram]


class ReminderIn(InputModel):
    local_time: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = (
        Field(description="HH:MM, on the person's clock.")
    )
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        min_length=1, max_length=7, description="0 = Monday ... 6 = Sunday."
    )
    timezone: TimeZoneName


class ReminderOut(OutputModel):
    id: int
    local_time: str
    weekdays: list[int]
    timezone: str
    next_due_at: datetime


class ExportedReminder(OutputModel):
    local_time: str
    weekdays: list[int]
    timezone: str
    created_at: datetime
