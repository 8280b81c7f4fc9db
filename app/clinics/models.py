"""Clinics, their clinicians, consented patient links, API clients and webhooks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, DateTime, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class MemberRole(StrEnum):
    OWNER = "owner"
    CLINICIAN = "clinician"


class Scope(StrEnum):
    PATIENTS_READ = "patients:read"
    PROGRAMS_READ = "programs:read"
    PROGRAMS_WRITE = "programs:write"  # implies programs:read
    WEBHOOKS_MANAGE = "webhooks:manage"
    FHIR_READ = "fhir:read"


# A scope that carries another with it: who may write the clinic's programs may read them.
IMPLIED_SCOPES: dict[Scope, frozenset[Scope]] = {
    Scope.PROGRAMS_WRITE: frozenset({Scope.PROGRAMS_READ})
}


class EventType(StrEnum):
    SESSION_LOGGED = "session.logged"
    STAGE_ADVANCED = "stage.advanced"
    PAIN_REPORTED = "pain.reported"
    LINK_CREATED = "link.created"
    LINK_REVOKED = "link.revoked"
    PROGRAM_ASSIGNED = "program.assigned"
    PATIENT_DELETED = "patient.deleted"
    OUTCOME_RECORDED = "outcome.recorded"
    ADHERENCE_LOW = "adherence.low"


class Clinic(SQLModel, table=True):
    __tablename__ = "clinic"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200), nullable=False)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()


class ClinicMember(SQLModel, table=True):
    __tablename__ = "clinic_member"

    clinic_id: int = Field(foreign_key="clinic.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(
        foreign_key="user_account.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    role: MemberRole = Field(default=MemberRole.CLINICIAN, sa_type=String(16), nullable=False)
    added_at: datetime = timestamp_field()


class PatientInvitation(SQLModel, table=True):
    """A short, single-use, expiring code a patient redeems to consent to a link.

    Only a hash of the code is kept; the code itself is shown once, to the clinician.
    """

    __tablename__ = "patient_invitation"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", nullable=False, index=True, ondelete="CASCADE")
    code_hash: str = Field(sa_type=String(64), unique=True, nullable=False)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    redeemed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    redeemed_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )


class StaffInvitation(SQLModel, table=True):
    """An invitation to join a clinic's staff, for one address: accepted by its owner only.

    Staff see patients' health data, so nobody is made staff by being named: the
    invited person signs in with that (verified) address and accepts the code. Only a
    keyed hash of the code is kept.
    """

    __tablename__ = "staff_invitation"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", nullable=False, index=True, ondelete="CASCADE")
    email: str = Field(sa_type=String(320), nullable=False)
    role: MemberRole = Field(default=MemberRole.CLINICIAN, sa_type=String(16), nullable=False)
    code_hash: str = Field(sa_type=String(64), unique=True, nullable=False)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    accepted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    accepted_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )


class PatientLink(SQLModel, table=True):
    """A patient's consent for a clinic to see their programs, sessions and progress."""

    __tablename__ = "patient_link"
    __table_args__ = (UniqueConstraint("clinic_id", "patient_id"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", nullable=False, ondelete="CASCADE")
    patient_id: int = Field(
        foreign_key="user_account.id", nullable=False, index=True, ondelete="CASCADE"
    )
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", nullable=False, index=True, ondelete="CASCADE")
    url: str = Field(sa_type=String(2000), nullable=False)
    # The signing secret, encrypted with a key derived from SECRET_KEY: it must be
    # readable to sign each delivery, so a hash would not do.
    secret_encrypted: str = Field(sa_type=Text, nullable=False)
    # After a rotation the old secret signs too, until it expires: receivers switch over
    # without missing a delivery.
    previous_secret_encrypted: str | None = Field(default=None, sa_type=Text)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True)
    )
    event_types: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    active: bool = Field(default=True, nullable=False)
    created_at: datetime = timestamp_field()


class AccessRecord(SQLModel, table=True):
    """One read of a patient's data by a clinic's staff, an admin or an API client.

    Append-only: written in batches by `app.clinics.access_log.AccessLog` alone, and
    removed only when older than `ACCESS_LOG_DAYS` (or with the patient's account).
    """

    __tablename__ = "access_record"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False, index=True)
    clinic_id: int = Field(foreign_key="clinic.id", nullable=False, ondelete="CASCADE")
    patient_id: int = Field(foreign_key="user_account.id", nullable=False, ondelete="CASCADE")
    # A person (staff or admin), or an API client; the name is read from them when shown.
    actor_user_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    actor_client_id: int | None = Field(
        default=None, foreign_key="api_client.id", ondelete="SET NULL"
    )
    # The route's name (`list_patient_sessions`) and the path read.
    what: str = Field(sa_type=String(64), nullable=False)
    path: str = Field(sa_type=String(300), nullable=False)

    __table_args__ = (
        Index("ix_access_record_patient_id_id", "patient_id", "id"),
        Index("ix_access_record_clinic_id_id", "clinic_id", "id"),
    )
