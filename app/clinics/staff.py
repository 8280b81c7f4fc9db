"""Joining a clinic's staff: by accepting an invitation sent to one's own address.

No FastAPI here. Staff see their clinic's patients' health data, so nobody is made
staff by being named: an owner invites an address, the invitation is mailed there
(and shown to the owner once, to pass on), and the person who signs in with that
verified address accepts it. The code works once, for `INVITATION_DAYS`, and only
its keyed hash is kept.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.access.policy import Role
from app.clinics.models import Clinic, ClinicMember, MemberRole, StaffInvitation
from app.clinics.service import (
    CODE_ALPHABET,
    CODE_LENGTH,
    ClinicActor,
    CodeHasher,
    EmailNotVerifiedError,
)
from app.core.changes import PrincipalChanged, record
from app.core.errors import ConflictError, InvalidInputError
from app.identity.mails import MailContext
from app.identity.models import User
from app.identity.service import normalize_email
from app.outbox.mail import enqueue_mail

NOT_VALID = (
    "This invitation is not valid for you (it may have expired, been used, or be for "
    "another address)."
)


def invite_staff(
    session: Session,
    *,
    actor: ClinicActor,
    email: str,
    role: MemberRole,
    codes: CodeHasher,
    mail: MailContext,
    now: datetime,
    valid_for: timedelta,
) -> tuple[StaffInvitation, str]:
    """An invitation for `email` to join as `role`, mailed there; the code is returned once."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    code = f"{raw[:5]}-{raw[5:]}"
    address = normalize_email(email)
    invitation = StaffInvitation(
        clinic_id=actor.clinic_id,
        email=address,
        role=role,
        code_hash=codes.digest(raw),
        created_by_id=actor.actor_user_id,
        created_at=now,
        expires_at=now + valid_for,
    )
    session.add(invitation)
    session.flush()
    clinic = session.get(Clinic, actor.clinic_id)
    assert clinic is not None
    inviter = actor.user.display_name if actor.user else clinic.name
    message = mail.render(
        "staff_invitation",
        to=address,
        name=address.split("@")[0],
        email=address,
        inviter=inviter,
        clinic=clinic.name,
        role=str(role),
        token=code,
        expires=f"{invitation.expires_at:%d %B %Y}",
    )
    enqueue_mail(session, mail=message, user_id=None, now=now)
    return invitation, code


def staff_invitations(session: Session, clinic_id: int) -> list[StaffInvitation]:
    return list(
        session.exec(
            select(StaffInvitation)
            .where(StaffInvitation.clinic_id == clinic_id)
            .order_by(col(StaffInvitation.created_at).desc(), col(StaffInvitation.id).desc())
        )
    )


def accept(
    session: Session, *, user: User, code: str, codes: CodeHasher, now: datetime
) -> tuple[ClinicMember, Clinic]:
    """The invited person joins: the code is spent (once) for their verified address."""
    assert user.id is not None
    if not user.email_verified:
        raise EmailNotVerifiedError(
            "Verify your email address first: the invitation is for a proven address."
        )
    spent = session.execute(
        update(StaffInvitation)
        .where(
            col(StaffInvitation.code_hash) == codes.digest(code),
            col(StaffInvitation.email) == user.email,
            col(StaffInvitation.accepted_at).is_(None),
            col(StaffInvitation.expires_at) > now,
        )
        .values(accepted_at=now, accepted_by_id=user.id)
        .returning(col(StaffInvitation.clinic_id), col(StaffInvitation.role))
    ).first()
    if spent is None:
        # One answer for unknown, used, expired codes and another address's invitation.
        raise InvalidInputError.for_field("body.code", NOT_VALID, "invalid_invitation")
    clinic_id, role = spent
    member = join(session, clinic_id=clinic_id, user=user, role=MemberRole(role))
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    return member, clinic


def join(session: Session, *, clinic_id: int, user: User, role: MemberRole) -> ClinicMember:
    """Make `user` one of the clinic's staff; a member becomes a clinician."""
    assert user.id is not None
    member = ClinicMember(clinic_id=clinic_id, user_id=user.id, role=role)
    try:
        with session.begin_nested():
            session.add(member)
    except IntegrityError as exc:
        raise ConflictError("You are already one of this clinic's staff.") from exc
    if user.role == Role.MEMBER:
        user.role = Role.CLINICIAN
        session.add(user)
    session.flush()
    # Their role and clinics decide what they see from their next request.
    record(session, PrincipalChanged(user_id=user.id))
    return member
