"""API shapes of the catalogue, and the content input shared by `rehab seed` and editors.

An exercise comes back in one of two shapes, told apart by `access`: the
locked shape has no premium key at all (not even null).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from app.access.policy import LockReason
from app.catalog.models import BodyRegion, ContentStatus, Difficulty, Sides
from app.core.schemas import (
    InputModel,
    LaxEnum,
    ListItem,
    LongText,
    MediaKey,
    OutputModel,
    Page,
    Sentence,
    ShortText,
    Slug,
    Tag,
)

# ---------------------------------------------------------------------------
# Output: exercises


class ExerciseTeaser(OutputModel):
    # `access` has a default, so the response schema would call it optional; it is always
    # sent, and clients narrow on it (the OpenAPI discriminator must be required).
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    slug: str
    name: str
    summary: str
    thumbnail_url: str | None
    body_regions: list[BodyRegion]
    muscles: list[str]
    equipment: list[str]
    difficulty: Difficulty


class Lock(OutputModel):
    """Why an exercise is locked, and what the viewer can do about it."""

    reason: LockReason
    message: str
    unlock_hint: str


class MediaLink(OutputModel):
    """A signed link that stops working at `expires_at`."""

    url: str
    expires_at: datetime


class ExerciseLocked(ExerciseTeaser):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access": "locked",
                    "slug": "clamshell",
                    "name": "Clamshell",
                    "summary": "Side-lying hip opening that wakes up the outer glutes.",
                    "thumbnail_url": "/media/thumbnails/clamshell.jpg",
                    "body_regions": ["hip"],
                    "muscles": ["gluteus medius"],
                    "equipment": ["mat"],
                    "difficulty": "beginner",
                    "lock": {
                        "reason": "login_required",
                        "message": "Sign in to see the video, instructions and coaching cues.",
                        "unlock_hint": "Create a free account or sign in to unlock this exercise.",
                    },
                }
            ]
        }
    )

    access: Literal["locked"] = "locked"
    lock: Lock


class ExerciseUnlocked(ExerciseTeaser):
    access: Literal["unlocked"] = "unlocked"
    video: MediaLink | None
    instructions: list[str]
    cues: list[str]
    mistakes: list[str]
    precautions: list[str]


ExerciseOut = Annotated[ExerciseLocked | ExerciseUnlocked, Field(discriminator="access")]

# ---------------------------------------------------------------------------
# Output: programs and conditions


class AdvanceRule(OutputModel):
    """What it takes to move past a stage."""

    min_days: int = Field(description="Days spent at the stage before advancing.")
    min_sessions: int = Field(description="Sessions logged at the stage before advancing.")
    all_exercises_easy: bool = Field(
        description="Whether the latest rating of every exercise in the stage must be `easy`."
    )
    max_pain: int = Field(
        description="A pain report (0-10) at or above this holds progression "
        "and advises seeing a health professional."
    )


class Dosage(OutputModel):
    sets: int
    reps: int | None
    hold_seconds: int | None
    sides: Sides
    times_per_day: int
    days_per_week: int
    notes: str | None


class StageExerciseOut(OutputModel):
    position: int
    dosage: Dosage
    exercise: ExerciseOut


class StageOut(OutputModel):
    position: int
    name: str
    guidance: str
    rule: AdvanceRule
    exercises: list[StageExerciseOut]


class ProgramSummary(OutputModel):
    slug: str
    name: str
    description: str
    conditions: list[str] = Field(description="Slugs of the conditions the program treats.")
    stage_count: int
    exercise_count: int


class ProgramDetail(ProgramSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "running-gait-retraining",
                    "name": "Running Gait Retraining",
                    "description": "Two stages of drills for a smoother, pain-free stride.",
                    "conditions": ["running-gait"],
                    "stage_count": 2,
                    "exercise_count": 12,
                    "stages": [],
                }
            ]
        }
    )

    stages: list[StageOut]


class ConditionSummary(OutputModel):
    slug: str
    name: str
    body_region: BodyRegion
    summary: str


class ConditionDetail(ConditionSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "tight-hip",
                    "name": "Tight Hip",
                    "body_region": "hip",
                    "summary": "Stiff, uncomfortable hips from overuse or long sitting.",
                    "description": "...",
                    "symptoms": ["A pulling feeling at the front of the hip"],
                    "causes": ["Long hours of sitting"],
                    "disclaimer": "General information, not a diagnosis.",
                    "programs": [],
                    "related": [],
                }
            ]
        }
    )

    description: str
    symptoms: list[str]
    causes: list[str]
    disclaimer: str
    programs: list[ProgramSummary]
    related: list[ConditionSummary]


# ---------------------------------------------------------------------------
# Input: authored content (seed files today, the editors' API later)


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


class ContentInput(InputModel):
    """Content from YAML files and the editors' API: strict types (a boolean is not a
    count), unknown keys refused; enums are given by their string values (`LaxEnum`)."""


# An enum member given by its value ("hip", "beginner"): JSON and YAML have no enums.
TagList = Annotated[list[Tag], Field(max_length=30), AfterValidator(_unique)]
TextList = Annotated[list[ListItem], Field(max_length=30)]


class ConditionIn(ContentInput):
    slug: Slug
    name: ShortText
    body_region: Annotated[BodyRegion, LaxEnum]
    summary: Sentence
    description: LongText
    symptoms: TextList = []
    causes: TextList = []
    related: Annotated[list[Slug], Field(max_length=20), AfterValidator(_unique)] = []
    disclaimer: LongText
    status: Annotated[ContentStatus, LaxEnum] = ContentStatus.PUBLISHED

    @model_validator(mode="after")
    def _not_related_to_itself(self) -> ConditionIn:
        if self.slug in self.related:
            raise ValueError("a condition cannot be related to itself")
        return self


class ExerciseIn(ContentInput):
    slug: Slug
    name: ShortText
    summary: Sentence
    thumbnail: MediaKey | None = None
    video: MediaKey | None = None
    body_regions: Annotated[
        list[Annotated[BodyRegion, LaxEnum]], Field(min_length=1, max_length=10)
    ]
    muscles: TagList = []
    equipment: TagList = []
    difficulty: Annotated[Difficulty, LaxEnum]
    instructions: TextList = []
    cues: TextList = []
    mistakes: TextList = []
    precautions: TextList = []
    status: Annotated[ContentStatus, LaxEnum] = ContentStatus.PUBLISHED


class RuleIn(ContentInput):
    min_days: Annotated[int, Field(ge=0, le=365)] = 0
    min_sessions: Annotated[int, Field(ge=0, le=1000)] = 0
    all_exercises_easy: bool = False
    max_pain: Annotated[int, Field(ge=1, le=10)] = 6


class DosageIn(ContentInput):
    # The rule `_reps_or_hold` enforces, stated in the schema for clients and generators.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["reps"], "properties": {"reps": {"type": "integer"}}},
                {"required": ["hold_seconds"], "properties": {"hold_seconds": {"type": "integer"}}},
            ]
        }
    )

    exercise: Slug
    sets: Annotated[int, Field(ge=1, le=20)]
    reps: Annotated[int, Field(ge=1, le=500)] | None = None
    hold_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    sides: Annotated[Sides, LaxEnum] = Sides.BILATERAL
    times_per_day: Annotated[int, Field(ge=1, le=12)] = 1
    days_per_week: Annotated[int, Field(ge=1, le=7)] = 7
    notes: Sentence | None = None

    @model_validator(mode="after")
    def _reps_or_hold(self) -> DosageIn:
        if self.reps is None and self.hold_seconds is None:
            raise ValueError("a dosage needs reps, hold_seconds or both")
        return self


class StageIn(ContentInput):
    position: Annotated[int, Field(ge=1, le=50)]
    name: ShortText
    guidance: LongText
    rule: RuleIn = RuleIn()
    exercises: Annotated[list[DosageIn], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _each_exercise_once(self) -> StageIn:
        slugs = [item.exercise for item in self.exercises]
        if len(set(slugs)) != len(slugs):
            raise ValueError("an exercise can appear only once in a stage")
        return self


class ProgramIn(ContentInput):
    slug: Slug
    name: ShortText
    description: LongText
    # Catalogue programs need at least one; a clinic's own programs may have none.
    conditions: Annotated[list[Slug], Field(max_length=20), AfterValidator(_unique)] = []
    status: Annotated[ContentStatus, LaxEnum] = ContentStatus.PUBLISHED
    # A draft may have none yet; a published program needs one (checked with the
    # rest of the catalogue's integrity when content is applied).
    stages: Annotated[list[StageIn], Field(max_length=50)] = []

    @model_validator(mode="after")
    def _positions_contiguous(self) -> ProgramIn:
        positions = [stage.position for stage in self.stages]
        if positions != list(range(1, len(positions) + 1)):
            raise ValueError("stage positions must run 1, 2, 3, ... in order")
        return self


class ContentBundle(ContentInput):
    """Everything a content load brings: validated whole before anything is written."""

    conditions: list[ConditionIn] = []
    exercises: list[ExerciseIn] = []
    programs: list[ProgramIn] = []


# ---------------------------------------------------------------------------
# Pages (named, so clients generated from OpenAPI get readable type names)


class ConditionPage(Page[ConditionSummary]):
    pass


class ProgramPage(Page[ProgramSummary]):
    pass


class ExercisePage(Page[ExerciseOut]):
    pass


class FacetValue(OutputModel):
    value: str
    count: int = Field(description="How many of the matching exercises carry this value.")


class ExerciseFacets(OutputModel):
    """The values each filter can take among the matching exercises, most frequent first."""

    total: int = Field(description="How many exercises match the filters.")
    region: list[FacetValue]
    muscle: list[FacetValue]
    equipment: list[FacetValue]
    difficulty: list[FacetValue]
