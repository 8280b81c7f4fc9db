"""API shapes for what a clinic reads and does about its patients, and its own programs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from app.catalog.models import Sides
from app.catalog.schemas import AdvanceRule, ProgramIn, StageIn
from app.core.schemas import (
    SLUG_PATTERN,
    InputModel,
    LongText,
    OutputModel,
    Page,
    ShortText,
    Slug,
    UTCDateTime,
    read_only,
)

# ---------------------------------------------------------------------------
# Patients


class AdherenceOut(OutputModel):
    sessions: int = Field(description="Sessions logged in the window.")
    planned: int | None = Field(
        description="Sessions the current stage prescribes for the window (for a newer "
        "enrollment, for the days since it started); None when it prescribes none."
    )
    percent: int | None = Field(description="sessions / planned, at most 100.")


class ProgramAdherence(OutputModel):
    last_7_days: AdherenceOut
    last_28_days: AdherenceOut


class PatientProgram(OutputModel):
    program: str
    stage: int
    stage_name: str
    completed: bool
    sessions_last_7_days: int
    pain_hold: bool
    adherence: ProgramAdherence


class LatestOutcome(OutputModel):
    instrument: str
    program: str
    score: float
    answered_at: UTCDateTime
    change: float | None = Field(description="Against the first score; None for the first.")
    improvement: float | None = Field(description="The change in the direction of better.")
    passes_mcid: bool | None


class LatestPain(OutputModel):
    value: int
    at: UTCDateTime


class PatientSummaryOut(OutputModel):
    id: int
    display_name: str
    email: str
    linked_at: UTCDateTime
    programs: list[PatientProgram]
    sessions_last_7_days: int
    latest_pain: LatestPain | None
    pain_hold: bool = Field(description="A recent pain report holds progression in a program.")
    inactive: bool = Field(description="No session in the last 7 days.")
    adherence_7_days: int | None = Field(
        description="The lowest 7-day adherence (%) among programs in progress; None when "
        "none prescribes anything."
    )
    outcomes: list[LatestOutcome] = Field(
        description="The latest score of each instrument answered, per program."
    )


class PatientPage(Page[PatientSummaryOut]):
    pass


class AssignProgram(InputModel):
    program: Slug


class StageOverride(InputModel):
    stage: Annotated[int, Field(ge=1, le=50)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


# ---------------------------------------------------------------------------
# Clinic-built programs

ClinicSlug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=80)]


class ClinicProgramIn(InputModel):
    """A program built from published catalogue exercises; validated as catalogue content."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "knee-plan",
                    "name": "Knee plan for Sam",
                    "description": "Two stages: calm the knee, then load it.",
                    "status": "published",
                    "stages": [
                        {
                            "position": 1,
                            "name": "Calm",
                            "guidance": "Gentle range of motion, twice a day.",
                            "rule": {"min_days": 0, "min_sessions": 2},
                            "exercises": [{"exercise": "heel-slide", "sets": 2, "reps": 10}],
                        }
                    ],
                }
            ]
        }
    )

    slug: ClinicSlug | None = Field(
        default=None,
        description="The clinic's own name for it (default: from the name); fixed once made.",
    )
    name: ShortText
    description: LongText
    status: Literal["draft", "published"] = Field(
        default="published", description="Drafts are visible to the clinic only."
    )
    stages: Annotated[list[StageIn], Field(min_length=1, max_length=50)]
    program: Annotated[
        str | None, read_only("the slug patients and assignments use, made from `slug`.")
    ] = None

    def as_program(self, slug: str) -> ProgramIn:
        """The catalogue's own input model: the one validation of `rehab seed` and editors."""
        return ProgramIn.model_validate(
            {
                "slug": slug,
                "name": self.name,
                "description": self.description,
                "status": self.status,
                "stages": [stage.model_dump(mode="json") for stage in self.stages],
            }
        )

    @model_validator(mode="after")
    def _valid_as_content(self) -> ClinicProgramIn:
        self.as_program("clinic-program")
        return self


class ClinicDosageOut(OutputModel):
    exercise: str = Field(description="The catalogue exercise's slug.")
    sets: int
    reps: int | None
    hold_seconds: int | None
    sides: Sides
    times_per_day: int
    days_per_week: int
    notes: str | None


class ClinicStageOut(OutputModel):
    position: int
    name: str
    guidance: str
    rule: AdvanceRule
    exercises: list[ClinicDosageOut]


class ClinicProgramBase(OutputModel):
    slug: str = Field(description="The clinic's name for the program.")
    program: str = Field(
        description="The slug patients and assignments use (`clinic-{clinic_id}-{slug}`)."
    )
    name: str
    description: str
    status: Literal["draft", "published"]


class ClinicProgramSummary(ClinicProgramBase):
    stage_count: int
    following: int = Field(description="Patients enrolled in it.")


class ClinicProgramOut(ClinicProgramBase):
    stages: list[ClinicStageOut]


class ClinicProgramPage(Page[ClinicProgramSummary]):
    pass
