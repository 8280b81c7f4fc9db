"""API shapes of an account's own data: the export, deletion, and operators' management."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from app.access.policy import Role
from app.clinics.schemas import AccessRecordOut
from app.core.schemas import InputModel, LaxEnum, OutputModel, Page, UTCDateTime
from app.identity.schemas import Password
from app.outcomes.schemas import ExportedQuestionnaire, ExportedReminder, ExportedResponse

EXPORT_FORMAT = "rehab-account-export/1"


class DeleteAccountIn(InputModel):
    current_password: Password | None = Field(
        default=None,
        description="Your current password; leave it out only right after signing in.",
    )


class ExportProfile(OutputModel):
    id: int
    email: str
    display_name: str
    role: Role
    email_verified: bool
    created_at: UTCDateTime
    updated_at: UTCDateTime


class ExportClinicLink(OutputModel):
    clinic_id: int
    clinic_name: str
    linked_at: UTCDateTime = Field(description="When you last consented.")
    withdrawn_at: UTCDateTime | None


class ExportStageChange(OutputModel):
    from_stage: int | None
    to_stage: int
    reason: str
    changed_by: int | None = Field(description="Who moved you: you, a clinician, or the rule.")
    clinic_id: int | None
    note: str | None
    changed_at: UTCDateTime


class ExportEnrollment(OutputModel):
    program: str
    program_name: str
    current_stage: int
    started_at: UTCDateTime
    stage_started_at: UTCDateTime
    completed_at: UTCDateTime | None
    assigned_by: int | None
    assigned_by_clinic: int | None
    history: list[ExportStageChange]


class ExportEntry(OutputModel):
    exercise: str
    sets_done: int
    reps_done: int | None
    hold_seconds_done: int | None
    difficulty: str
    pain: int
    note: str | None


class ExportSession(OutputModel):
    id: str
    program: str
    stage: int
    performed_at: UTCDateTime
    note: str | None
    created_at: UTCDateTime
    updated_at: UTCDateTime
    deleted_at: UTCDateTime | None = Field(description="Set for a session you deleted.")
    entries: list[ExportEntry]


class ExportRating(OutputModel):
    program: str
    stage: int
    exercise: str
    difficulty: str
    performed_at: UTCDateTime


class ExportSignIn(OutputModel):
    device: str | None
    created_at: UTCDateTime
    last_used_at: UTCDateTime | None
    ended_at: UTCDateTime | None
    ended_because: str | None


class ExportMail(OutputModel):
    to: str
    subject: str
    kind: str
    status: str
    created_at: UTCDateTime
    sent_at: UTCDateTime | None


class AccountExport(OutputModel):
    """Everything held about you, as one JSON document (GDPR articles 15 and 20)."""

    format: Literal["rehab-account-export/1"]
    exported_at: UTCDateTime
    profile: ExportProfile
    clinic_links: list[ExportClinicLink]
    enrollments: list[ExportEnrollment]
    ratings: list[ExportRating]
    questionnaires: list[ExportedQuestionnaire]
    responses: list[ExportedResponse]
    reminders: list[ExportedReminder]
    sign_ins: list[ExportSignIn]
    mail: list[ExportMail]
    sessions: list[ExportSession]
    access_log: list[AccessRecordOut] = Field(
        description="Every read of your data by a clinic's staff, systems or an administrator."
    )


class UserAdminOut(OutputModel):
    """An account as an operator sees it."""

    id: int
    email: str
    display_name: str
    role: Role
    disabled: bool
    email_verified: bool
    created_at: UTCDateTime
    active_sign_ins: int


class UserAdminPage(Page[UserAdminOut]):
    pass


class UserAdminUpdate(InputModel):
    """What an operator changes about an account: leave out what stays."""

    disabled: Annotated[bool | None, Field(description="Refused at once everywhere.")] = None
    role: Annotated[Role, LaxEnum] | None = None
