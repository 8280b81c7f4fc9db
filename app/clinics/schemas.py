"""API shapes for clinics, consent, patients, API clients and webhooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, EmailStr, Field

from app.clinics.models import EventType, MemberRole, Scope
from app.core.schemas import (
    InputModel,
    OutputModel,
    Page,
    ShortText,
    UTCDateTime,
)
from app.outbox.models import DeliveryStatus

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


class StaffInvite(InputModel):
    email: Annotated[EmailStr, Field(max_length=320, description="Where the invitation goes.")]
    role: Literal["owner", "clinician"] = "clinician"


class StaffInvitationOut(OutputModel):
    id: int
    email: str
    role: MemberRole
    created_at: UTCDateTime
    expires_at: UTCDateTime
    accepted_at: UTCDateTime | None


class StaffInvitationCreated(StaffInvitationOut):
    code: str = Field(description="Mailed to the address; shown here once, to pass on.")


class StaffAccept(InputModel):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class MembershipOut(OutputModel):
    """A clinic you now work in."""

    clinic_id: int
    clinic_name: str
    role: MemberRole


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


class ApiClientCreate(InputModel):
    name: ShortText
    scopes: Annotated[
        list[Scope],
        Field(min_length=1, max_length=len(Scope), json_schema_extra=UNIQUE),
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
        Field(min_length=1, max_length=len(EventType), json_schema_extra=UNIQUE),
        AfterValidator(_unique),
    ]

    model_config = ConfigDict(strict=False)  # event types arrive as strings


class WebhookUpdate(InputModel):
    """What to change about a subscription: leave out what stays."""

    url: Annotated[str, Field(min_length=8, max_length=2000, pattern=WEBHOOK_URL)] | None = None
    event_types: (
        Annotated[
            list[EventType],
            Field(min_length=1, max_length=len(EventType), json_schema_extra=UNIQUE),
            AfterValidator(_unique),
        ]
        | None
    ) = None
    active: Annotated[bool, Field(strict=True)] | None = None

    model_config = ConfigDict(strict=False)  # event types arrive as strings


class WebhookSecretOut(OutputModel):
    secret: str = Field(description="The new signing secret; shown only once.")
    previous_secret_expires_at: UTCDateTime | None = Field(
        description="Until then the old secret signs deliveries too (a second signature)."
    )


class ApiClientSecretOut(OutputModel):
    client_id: str
    client_secret: str = Field(
        description="The new secret; shown only once. The old one "
        "stops working now; tokens issued with it last until they expire."
    )


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


class AccessActor(OutputModel):
    kind: Literal["clinic_staff", "administrator", "api_client", "erased"] = Field(
        description="Who read: one of the clinic's staff, an administrator of this service, "
        "one of the clinic's systems (an API client), or an account since erased."
    )
    id: int | None = Field(description="The person's user id or the API client's id.")
    name: str


class AccessClinic(OutputModel):
    id: int
    name: str


class AccessPatient(OutputModel):
    id: int
    display_name: str


class AccessRecordOut(OutputModel):
    """One read of a patient's data."""

    id: int
    at: UTCDateTime
    clinic: AccessClinic
    patient: AccessPatient
    actor: AccessActor
    what: str = Field(description="The operation that read it (its operationId).")
    path: str = Field(description="The path that was read.")


class AccessLogPage(Page[AccessRecordOut]):
    pass
