"""Joining a clinic's staff: owners invite an address, its owner accepts the invitation."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from app.clinics import service, staff
from app.clinics.deps import ClinicOwnerDep, ClinicStaffDep, clinic_router
from app.clinics.models import MemberRole, StaffInvitation
from app.clinics.schemas import (
    MembershipOut,
    StaffAccept,
    StaffInvitationCreated,
    StaffInvitationOut,
    StaffInvite,
)
from app.core.deps import ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.core.ratelimit import RATE_LIMITER
from app.identity.deps import CurrentUserDep
from app.identity.mails import mail_context
from app.identity.service import fresh_user

router = clinic_router(tags=["clinic staff"])
me = APIRouter(prefix="/v1/me/staff-invitations", tags=["clinic staff"])


@router.post(
    "/staff-invitations",
    name="invite_staff",
    summary="Invite an address to the clinic's staff (owners, admins); mailed to it",
    description=(
        "Staff see the clinic's patients' health data, so nobody is made staff by being "
        "named: the person who signs in with this address, once verified, accepts the "
        "invitation (`POST /v1/me/staff-invitations`). The code is mailed to the address "
        "and shown here once, to pass on."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=StaffInvitationCreated,
    responses=error_responses(401, 403, 404, 422),
)
def invite_staff(
    body: StaffInvite,
    actor: ClinicOwnerDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> StaffInvitationCreated:
    invitation, code = staff.invite_staff(
        session,
        actor=actor,
        email=str(body.email),
        role=MemberRole(body.role),
        codes=service.INVITATION_CODES.of(request),
        mail=mail_context(settings),
        now=utcnow(),
        valid_for=timedelta(days=settings.invitation_days),
    )
    return StaffInvitationCreated.model_validate({**invitation.model_dump(), "code": code})


@router.get(
    "/staff-invitations",
    name="list_staff_invitations",
    summary="Staff invitations made, without their codes",
    response_model=list[StaffInvitationOut],
    responses=error_responses(401, 403, 404, 422),
)
def list_staff_invitations(actor: ClinicStaffDep, session: ReadSessionDep) -> list[StaffInvitation]:
    """To whom, which role, and whether each was accepted; codes are never shown again."""
    return staff.staff_invitations(session, actor.clinic_id)


@me.post(
    "",
    name="accept_staff_invitation",
    summary="Join a clinic's staff by accepting the invitation sent to your address",
    status_code=status.HTTP_201_CREATED,
    response_model=MembershipOut,
    responses=error_responses(401, 403, 409, 422, 429),
)
def accept_staff_invitation(
    body: StaffAccept,
    session: SessionDep,
    user: CurrentUserDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> MembershipOut:
    """For the account whose verified address the invitation was sent to; the code works
    once. Limited per account, like redeeming a patient's code."""
    RATE_LIMITER.of(request).hit(
        settings.redeem_rate_per_account, scope="staff-accept", key=str(user.id)
    )
    member, clinic = staff.accept(
        session,
        user=fresh_user(session, user),
        code=body.code,
        codes=service.INVITATION_CODES.of(request),
        now=utcnow(),
    )
    response.headers["Location"] = f"/v1/clinics/{clinic.id}"
    assert clinic.id is not None
    return MembershipOut(clinic_id=clinic.id, clinic_name=clinic.name, role=member.role)
