"""What each webhook delivery's body holds, as models: the OpenAPI `webhooks` section.

`events.emit` writes these bodies; the tests validate every event it queues
against its model here (unknown members refused), so the section integrators
generate types from cannot drift from what is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.clinics.models import EventType

PING = "webhook.ping"


class EventData(BaseModel):
    """Every event about a patient names them by their id (the clinic's patient id)."""

    model_config = ConfigDict(extra="forbid")

    patient_id: int = Field(description="The patient, as `/v1/clinics/{id}/patients/{id}`.")


class SessionLoggedData(EventData):
    session_id: str = Field(description="The session's UUID, as the patient's app made it.")
    program: str = Field(description="The program's slug.")
    stage: int = Field(ge=1)
    performed_at: datetime
    outcome: Literal["created", "replaced"] = Field(
        description="`replaced` when the same UUID was sent again with other content."
    )
    entries: int = Field(ge=1, description="Exercises logged.")
    worst_pain: int = Field(ge=0, le=10)


class PainReportedData(EventData):
    session_id: str
    program: str
    stage: int = Field(ge=1)
    pain: int = Field(ge=0, le=10, description="The session's worst pain.")
    max_pain: int = Field(ge=0, le=10, description="The stage's limit, which it reached.")


class StageAdvancedData(EventData):
    program: str
    from_stage: int = Field(ge=1)
    to_stage: int = Field(ge=1)
    completed: bool = Field(description="The last stage was passed: the program is done.")
    by: Literal["rule", "clinician"] = Field(
        description="The patient met the stage's rule, or a clinician set the stage."
    )


class ProgramAssignedData(EventData):
    program: str
    assigned_by: int | None = Field(
        description="The clinician's user id; null when the clinic's API client assigned it."
    )


class OutcomeRecordedData(EventData):
    response_id: str = Field(description="The response's UUID, as the patient's app made it.")
    instrument: str = Field(description="The instrument's slug.")
    version: int = Field(ge=1, description="The version it was scored with.")
    program: str | None = Field(description="The program it was asked for, if any.")
    answered_at: datetime
    score: float = Field(description="The total score, as the instrument scores it.")
    change: float | None = Field(description="Against the first response (null: this is it).")
    passes_mcid: bool | None = Field(
        description="Whether the change reaches the minimal clinically important difference; "
        "null for a first response or an instrument without one."
    )


class AdherenceLowData(EventData):
    program: str
    sessions_last_7_days: int = Field(ge=0)
    planned_last_7_days: int = Field(ge=0)
    adherence_percent: int = Field(ge=0, le=100)
    threshold_percent: int = Field(ge=1, le=100)


class PingData(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class EventDoc:
    name: str
    summary: str
    data: type[BaseModel]


EVENT_DOCS: dict[str, EventDoc] = {
    EventType.SESSION_LOGGED: EventDoc(
        "SessionLogged", "A patient logged (or corrected) a session", SessionLoggedData
    ),
    EventType.PAIN_REPORTED: EventDoc(
        "PainReported", "A session's pain reached the stage's limit", PainReportedData
    ),
    EventType.STAGE_ADVANCED: EventDoc(
        "StageAdvanced", "A patient moved to another stage, or finished", StageAdvancedData
    ),
    EventType.LINK_CREATED: EventDoc(
        "LinkCreated", "A patient consented: redeemed the clinic's invitation", EventData
    ),
    EventType.LINK_REVOKED: EventDoc(
        "LinkRevoked", "A patient withdrew consent: nothing more about them follows", EventData
    ),
    EventType.PROGRAM_ASSIGNED: EventDoc(
        "ProgramAssigned", "The clinic assigned a program to a patient", ProgramAssignedData
    ),
    EventType.PATIENT_DELETED: EventDoc(
        "PatientDeleted", "The patient erased their account: only their id is sent", EventData
    ),
    EventType.OUTCOME_RECORDED: EventDoc(
        "OutcomeRecorded",
        "A patient answered a questionnaire and it was scored",
        OutcomeRecordedData,
    ),
    EventType.ADHERENCE_LOW: EventDoc(
        "AdherenceLow",
        "A patient's 7-day adherence fell below the clinic's threshold (again only after it "
        "recovered)",
        AdherenceLowData,
    ),
    PING: EventDoc("WebhookPing", "A test delivery to this subscription alone", PingData),
}


def _envelope(event_type: str, doc: EventDoc) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "id": (str, Field(description="The event id: the `webhook-id` header; drop repeats.")),
        "type": (Literal[event_type], ...),
        "created_at": (datetime, Field(description="When it happened.")),
        "clinic_id": (int, Field(description="The clinic it was sent to.")),
        "data": (doc.data, ...),
    }
    model: type[BaseModel] = create_model(
        f"{doc.name}Event",
        __config__=ConfigDict(extra="forbid", title=f"{doc.name}Event"),
        __doc__=f"`{event_type}`: {doc.summary}.",
        **fields,
    )
    return model


EVENT_BODIES: dict[str, type[BaseModel]] = {
    event_type: _envelope(event_type, doc) for event_type, doc in EVENT_DOCS.items()
}
