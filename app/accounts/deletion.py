"""Deleting an account from inside the app: immediate and complete (GDPR article 17).

No FastAPI here. What goes: the profile, sign-ins, enrollments and stage history,
every session and entry, ratings, clinic links and staff memberships, tokens,
and every message still owed about the person (mail, webhook deliveries) - the
foreign keys' cascades take them with the account row. What stays, and why:

- an audit entry the person made as an admin or clinician stays, with the
  actor shown as a placeholder (the content change itself is the catalogue's
  history, not the person's data);
- a stage change or assignment the person made for a patient, as a clinician,
  stays in that patient's history without naming them;
- each linked clinic gets one `patient.deleted` event carrying only its patient
  id, so its own records can follow.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.authoring.models import AuditEntry
from app.clinics.events import emit
from app.clinics.models import EventType, PatientLink
from app.core.changes import PrincipalChanged, StandingChanged, record
from app.core.errors import ForbiddenError, InvalidInputError
from app.core.models import as_utc
from app.identity.models import RefreshFamily, User
from app.identity.passwords import verify_password

ERASED_ACTOR = "erased account"


class ReauthenticationRequiredError(ForbiddenError):
    type = "/problems/reauthentication-required"


def check_may_delete(
    session: Session,
    user: User,
    *,
    family_id: str,
    current_password: str | None,
    recent: timedelta,
    now: datetime,
) -> None:
    """The person proves it is them: the current password, or a sign-in of a moment ago."""
    if current_password is not None:
        valid, _ = verify_password(current_password, user.password_hash)
        if not valid:
            raise InvalidInputError.for_field(
                "body.current_password", "The current password is not correct.", "wrong_password"
            )
        return
    family = session.get(RefreshFamily, family_id)
    if family is None or now - as_utc(family.created_at) > recent:
        minutes = int(recent.total_seconds() // 60)
        raise ReauthenticationRequiredError(
            "Confirm it is you: send your current password, or sign in again and delete "
            f"within {minutes} minutes."
        )


def delete_account(session: Session, user: User, *, now: datetime) -> None:
    """Erase the account and everything about the person, in this transaction."""
    assert user.id is not None
    linked = session.exec(
        select(PatientLink.clinic_id).where(
            PatientLink.patient_id == user.id, col(PatientLink.revoked_at).is_(None)
        )
    ).all()
    for clinic_id in linked:
        emit(
            session,
            patient_id=user.id,
            event_type=EventType.PATIENT_DELETED,
            data={},
            clinic_id=clinic_id,
            now=now,
            outlives_patient=True,
        )
    session.execute(
        update(AuditEntry)
        .where(col(AuditEntry.actor_id) == user.id)
        .values(actor_email=ERASED_ACTOR)
    )
    session.execute(delete(User).where(col(User.id) == user.id))
    session.expunge_all()  # nothing of the person stays in this session either
    record(session, PrincipalChanged(user_id=user.id), StandingChanged(user.id))
