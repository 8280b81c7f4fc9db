"""API shapes for clinics, consent, patients, API clients and webhooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from app.catalog.models import Sides
from app.catalog.schemas import AdvanceRule, ProgramIn, StageIn
from app.clinics.models import DeliveryStatus, EventType, MemberRole, Scope
from app.core.schemas import (
    SLUG_PATTERN,
    InputModel,
    LongText,
    OutputModel,
    Page,
    ShortText,
    Slug,
    UTCDateTime,
)

# Told to clients in the schema; `_unique` enforces it.
UNIQUE: dict[str, Any] = {"uniqueItems": True}
# An absolute http(s) URL without credentials, with a port of 1-65535 if any. Whether
# its host is a safe target is checked when it is saved and before every delivery.
WEBHOOK_URL = (
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[^\s/?#@:\[\]]+)"
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
    r"([/?#]\S*)?$"
)


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


class ClinicCreate(InputModel):
    name: ShortText


class ClinicOut(OutputModel):
    id: int
    name: str
    created_at: UTCDateTime


class MemberAdd(InputModel):
    email: Annotated[EmailStr, Field(max_length=320)]
    role: Literal["owner", "clinician"] = "clinician"


class MemberOut(OutputModel):
    user_id: int
    email: str
    display_name: str
    role: MemberRole
    added_at: UTCDateTime


class InvitationOut(OutputModel):
    id: int
    created_at: UTCDateTime
    expires_at: UTCDateTime
    redeemed_at: UTCDateTime | None


class InvitationCreated(InvitationOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "code": "7KQ2M-XR9TD",
                    "created_at": "2026-11-24T10:00:00Z",
                    "expires_at": "2026-12-01T10:00:00Z",
                    "redeemed_at": None,
                }
            ]
        }
    )

    code: str = Field(description="Give this to the patient. It is shown only once.")
    # Always null here. Optional in the schema because the OpenAPI document drops null
    # values, which would leave the example above without a required key.
    redeemed_at: None = Field(default=None, description="A new invitation is not redeemed yet.")


class LinkCreate(InputModel):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class LinkOut(OutputModel):
    clinic_id: int
    clinic_name: str
    linked_at: UTCDateTime


class PatientProgram(OutputModel):
    program: str
    stage: int
    stage_name: str
    completed: bool
    sessions_last_7_days: int
    pain_hold: bool


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


class PatientPage(Page[PatientSummaryOut]):
    pass


class AssignProgram(InputModel):
    program: Slug


class StageOverride(InputModel):
    stage: Annotated[int, Field(ge=1, le=50)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ApiClientCreate(InputModel):
    name: ShortText
    scopes: Annotated[
        list[Scope],
        Field(min_length=1, max_length=3, json_schema_extra=UNIQUE),
        AfterValidator(_unique),
    ]

    model_config = ConfigDict(strict=False)  # scopes arrive as strings


class ApiClientOut(OutputModel):
    id: int
    client_id: str
    name: str
    scopes: list[str]
    created_at: UTCDateTime
    revoked_at: UTCDateTime | None


class ApiClientCreated(ApiClientOut):
    client_secret: str = Field(description="Shown only once; store it safely.")


class WebhookCreate(InputModel):
    url: Annotated[str, Field(min_length=8, max_length=2000, pattern=WEBHOOK_URL)]
    event_types: Annotated[
        list[EventType],
        Field(min_length=1, max_length=6, json_schema_extra=UNIQUE),
        AfterValidator(_unique),
    ]

    model_config = ConfigDict(strict=False)  # event types arrive as strings


class WebhookOut(OutputModel):
    id: int
    url: str
    event_types: list[str]
    active: bool
    created_at: UTCDateTime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Verifies `Webhook-Signature`; shown only once.")


class DeliveryOut(OutputModel):
    id: int
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: UTCDateTime
    last_attempt_at: UTCDateTime | None
    last_status_code: int | None
    last_error: str | None
    created_at: UTCDateTime
    delivered_at: UTCDateTime | None


class DeliveryPage(Page[DeliveryOut]):
    pass


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
