"""Clinics: membership, consent (invitations and links), API clients.

No FastAPI here. Every query about a clinic's patients starts from
`linked_patient`, which only finds people with a live link to the clinic:
withdrawn consent takes effect on the very next request. What a clinic does
with its patients (their programs, stages and sessions) is `app.care`'s.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.access.policy import Role
from app.clinics.events import emit
from app.clinics.models import (
    IMPLIED_SCOPES,
    Clinic,
    ClinicMember,
    EventType,
    MemberRole,
    PatientInvitation,
    PatientLink,
    Scope,
    WebhookSubscription,
)
from app.core.changes import PrincipalChanged, record
from app.core.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from app.core.secrets import KeyedHash
from app.core.state import StateKey
from app.identity.models import ApiClient, User
from app.identity.service import secret_digest
from app.identity.subject import ClientSubject
from app.outbox.models import DeliveryStatus, OutboxMessage

# Crockford's base32 without look-alikes: 10 characters carry 50 bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
ALL_SCOPES = frozenset(scope.value for scope in Scope)


@dataclass(frozen=True, slots=True)
class ClinicActor:
    """Who acts on a clinic: one of its clinicians, an admin, or one of its API clients."""

    clinic_id: int
    scopes: frozenset[str]
    user: User | None = None
    client: ClientSubject | None = None
    is_owner: bool = False

    @property
    def actor_user_id(self) -> int | None:
        return self.user.id if self.user else None

    def has(self, scope: Scope) -> bool:
        """Whether this actor holds `scope`, itself or through one that implies it."""
        return scope.value in self.scopes or any(
            granted.value in self.scopes and scope in implied
            for granted, implied in IMPLIED_SCOPES.items()
        )

    def require_owner(self) -> None:
        if not self.is_owner:
            raise ForbiddenError("Only the clinic's owners (or an admin) may do this.")


class EmailNotVerifiedError(ForbiddenError):
    type = "/problems/email-not-verified"


@dataclass(frozen=True, slots=True)
class CodeHasher:
    """Invitation codes are kept as a keyed hash (`KeyedHash`), normalised as people type them."""

    keyed: KeyedHash

    @classmethod
    def from_secret(cls, secret: bytes) -> CodeHasher:
        return cls(KeyedHash.derive(secret, "invitation-codes"))

    def digest(self, code: str) -> str:
        return self.keyed.digest(normalize_code(code))


INVITATION_CODES = StateKey[CodeHasher]("invitation_codes")


# ---------------------------------------------------------------------------
# Clinics and members


def create_clinic(session: Session, *, name: str, admin: User) -> Clinic:
    clinic = Clinic(name=name, created_by_id=admin.id)
    session.add(clinic)
    session.flush()
    return clinic


def get_clinic(session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFoundError("No such clinic.")
    return clinic


def clinics_of(session: Session, user: User) -> list[Clinic]:
    query = select(Clinic).order_by(col(Clinic.name), col(Clinic.id))
    if user.role != Role.ADMIN:
        query = query.join(ClinicMember, col(ClinicMember.clinic_id) == Clinic.id).where(
            ClinicMember.user_id == user.id
        )
    return list(session.exec(query))


def clinic_ids_of(session: Session, user_id: int) -> frozenset[int]:
    """The clinics a person works in: their own programs are visible to them."""
    rows = session.exec(select(ClinicMember.clinic_id).where(ClinicMember.user_id == user_id))
    return frozenset(rows)


def is_staff(session: Session, user: User) -> bool:
    """Admins, and anyone on a clinic's staff: those MFA_REQUIRED_FOR_STAFF holds to a factor."""
    if user.role == Role.ADMIN:
        return True
    return (
        session.exec(select(ClinicMember).where(ClinicMember.user_id == user.id)).first()
        is not None
    )


def membership(session: Session, clinic_id: int, user_id: int) -> ClinicMember | None:
    return session.get(ClinicMember, (clinic_id, user_id))


def members(session: Session, clinic_id: int) -> list[tuple[ClinicMember, User]]:
    rows = session.exec(
        select(ClinicMember, User)
        .join(User, col(User.id) == ClinicMember.user_id)
        .where(ClinicMember.clinic_id == clinic_id)
        .order_by(col(User.display_name), col(User.id))
    )
    return [(member, user) for member, user in rows]


def remove_member(session: Session, *, clinic_id: int, user_id: int) -> None:
    member = membership(session, clinic_id, user_id)
    if member is None:
        raise NotFoundError("No such member.")
    owners = session.exec(
        select(func.count())
        .select_from(ClinicMember)
        .where(ClinicMember.clinic_id == clinic_id, ClinicMember.role == MemberRole.OWNER)
    ).one()
    if member.role == MemberRole.OWNER and owners <= 1:
        raise ConflictError("A clinic keeps at least one owner.")
    session.delete(member)
    session.flush()
    # The clinician's view (every stage unlocked) comes from clinic work: it ends with it.
    still_member = session.exec(
        select(ClinicMember.clinic_id).where(ClinicMember.user_id == user_id)
    ).first()
    user = session.get(User, user_id)
    if still_member is None and user is not None and user.role == Role.CLINICIAN:
        user.role = Role.MEMBER
        session.add(user)
        session.flush()
    record(session, PrincipalChanged(user_id=user_id))


# ---------------------------------------------------------------------------
# Consent: invitations and links


def normalize_code(code: str) -> str:
    cleaned = code.upper().replace("-", "").replace(" ", "")
    return cleaned.replace("O", "0").replace("I", "1").replace("L", "1")


def create_invitation(
    session: Session,
    *,
    actor: ClinicActor,
    codes: CodeHasher,
    now: datetime,
    valid_for: timedelta,
) -> tuple[PatientInvitation, str]:
    """A single-use code for one patient; only its hash is stored."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    invitation = PatientInvitation(
        clinic_id=actor.clinic_id,
        code_hash=codes.digest(raw),
        created_by_id=actor.actor_user_id,
        created_at=now,
        expires_at=now + valid_for,
    )
    session.add(invitation)
    session.flush()
    return invitation, f"{raw[:5]}-{raw[5:]}"


def invitations(session: Session, clinic_id: int) -> list[PatientInvitation]:
    return list(
        session.exec(
            select(PatientInvitation)
            .where(PatientInvitation.clinic_id == clinic_id)
            .order_by(col(PatientInvitation.created_at).desc())
        )
    )


def redeem(
    session: Session, *, patient: User, code: str, codes: CodeHasher, now: datetime
) -> PatientLink:
    """The patient consents: the code is spent (once) and the clinic is linked."""
    assert patient.id is not None
    if not patient.email_verified:
        raise EmailNotVerifiedError(
            "Verify your email address before linking to a clinic: the clinic must be able "
            "to reach you. Ask for a new verification mail if you need one."
        )
    spent = session.execute(
        update(PatientInvitation)
        .where(
            col(PatientInvitation.code_hash) == codes.digest(code),
            col(PatientInvitation.redeemed_at).is_(None),
            col(PatientInvitation.expires_at) > now,
        )
        .values(redeemed_at=now, redeemed_by_id=patient.id)
        .returning(col(PatientInvitation.clinic_id))
    ).first()
    if spent is None:
        # One answer for unknown, used and expired codes: nothing to learn by guessing.
        raise InvalidInputError.for_field(
            "body.code", "This code is not valid (it may have expired or been used)."
        )
    clinic_id = spent[0]
    link = session.exec(
        select(PatientLink).where(
            PatientLink.clinic_id == clinic_id, PatientLink.patient_id == patient.id
        )
    ).first()
    if link is not None and link.revoked_at is None:
        raise ConflictError("You are already linked to this clinic.")
    if link is None:
        link = PatientLink(clinic_id=clinic_id, patient_id=patient.id, created_at=now)
    else:  # consenting again after withdrawing
        link.revoked_at = None
        link.created_at = now
    session.add(link)
    session.flush()
    emit(
        session,
        patient_id=patient.id,
        event_type=EventType.LINK_CREATED,
        data={},
        clinic_id=clinic_id,
        now=now,
    )
    return link


def links_of(session: Session, patient_id: int) -> list[tuple[PatientLink, Clinic]]:
    rows = session.exec(
        select(PatientLink, Clinic)
        .join(Clinic, col(Clinic.id) == PatientLink.clinic_id)
        .where(PatientLink.patient_id == patient_id, col(PatientLink.revoked_at).is_(None))
        .order_by(col(Clinic.name))
    )
    return [(link, clinic) for link, clinic in rows]


def withdraw(session: Session, *, patient_id: int, clinic_id: int, now: datetime) -> None:
    """The patient withdraws consent: from now on the clinic sees nothing of them."""
    link = session.exec(
        select(PatientLink).where(
            PatientLink.clinic_id == clinic_id,
            PatientLink.patient_id == patient_id,
            col(PatientLink.revoked_at).is_(None),
        )
    ).first()
    if link is None:
        raise NotFoundError("You are not linked to this clinic.")
    # The clinic hears of it while the link still stands, then it is cut.
    emit(
        session,
        patient_id=patient_id,
        event_type=EventType.LINK_REVOKED,
        data={},
        clinic_id=clinic_id,
        now=now,
    )
    link.revoked_at = now
    session.add(link)
    session.flush()
    cancel_deliveries_about(session, patient_id=patient_id, clinic_id=clinic_id)


def cancel_deliveries_about(session: Session, *, patient_id: int, clinic_id: int) -> None:
    """Nothing more about the patient reaches the clinic: what is queued or retrying is
    cancelled (the news of the withdrawal itself, `link.revoked`, still goes)."""
    subscriptions = select(WebhookSubscription.id).where(WebhookSubscription.clinic_id == clinic_id)
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.user_id) == patient_id,
            col(OutboxMessage.subscription_id).in_(subscriptions),
            col(OutboxMessage.status) == DeliveryStatus.PENDING,
            col(OutboxMessage.event_type) != EventType.LINK_REVOKED,
        )
        .values(status=DeliveryStatus.CANCELLED, locked_until=None)
    )


def linked_patient(session: Session, clinic_id: int, patient_id: int) -> User:
    """The patient, if linked to this clinic with live consent; 404 otherwise."""
    row = session.exec(
        select(User)
        .join(PatientLink, col(PatientLink.patient_id) == User.id)
        .where(
            PatientLink.clinic_id == clinic_id,
            PatientLink.patient_id == patient_id,
            col(PatientLink.revoked_at).is_(None),
        )
    ).first()
    if row is None:
        raise NotFoundError("No such patient.")
    return row


# ---------------------------------------------------------------------------
# API clients


def create_api_client(
    session: Session, *, actor: ClinicActor, name: str, scopes: list[str]
) -> tuple[ApiClient, str]:
    """New credentials; the secret is returned once and kept only as a hash."""
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        clinic_id=actor.clinic_id,
        client_id="rc_" + secrets.token_hex(12),
        secret_hash=secret_digest(secret),
        name=name,
        scopes=sorted(set(scopes)),
        created_by_id=actor.actor_user_id,
    )
    session.add(client)
    session.flush()
    return client, secret


def api_clients(session: Session, clinic_id: int) -> list[ApiClient]:
    return list(
        session.exec(
            select(ApiClient).where(ApiClient.clinic_id == clinic_id).order_by(col(ApiClient.id))
        )
    )


def revoke_api_client(session: Session, *, clinic_id: int, client_id: int, now: datetime) -> None:
    client = session.get(ApiClient, client_id)
    if client is None or client.clinic_id != clinic_id:
        raise NotFoundError("No such API client.")
    if client.revoked_at is None:
        client.revoked_at = now
        session.add(client)
        session.flush()
        record(session, PrincipalChanged(client_id=client_id))


def rotate_api_client_secret(
    session: Session, *, clinic_id: int, client_id: int
) -> tuple[ApiClient, str]:
    """A new secret for an API client, returned once; the old one stops working now."""
    client = session.get(ApiClient, client_id)
    if client is None or client.clinic_id != clinic_id or client.revoked_at is not None:
        raise NotFoundError("No such API client.")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = secret_digest(secret)
    session.add(client)
    session.flush()
    return client, secret
