"""Patient invitations: a single-use code a patient redeems to consent to the clinic."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, status

from app.clinics import service
from app.clinics.deps import ClinicStaffDep, clinic_router
from app.clinics.models import PatientInvitation
from app.clinics.schemas import InvitationCreated, InvitationOut
from app.core.deps import ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.models import utcnow

router = clinic_router(tags=["clinic patients"])
ACTOR_ERRORS = (401, 403, 404, 422)


@router.post(
    "/invitations",
    name="create_invitation",
    summary="A single-use code a patient redeems to consent to this clinic",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    responses=error_responses(*ACTOR_ERRORS),
)
def create_invitation(
    actor: ClinicStaffDep, session: SessionDep, settings: SettingsDep, request: Request
) -> InvitationCreated:
    """Clinicians and owners. The code is shown once (it is stored as a keyed hash) and works
    once, for `INVITATION_DAYS`."""
    invitation, code = service.create_invitation(
        session,
        actor=actor,
        codes=service.INVITATION_CODES.of(request),
        now=utcnow(),
        valid_for=timedelta(days=settings.invitation_days),
    )
    return InvitationCreated.model_validate({**invitation.model_dump(), "code": code})


@router.get(
    "/invitations",
    name="list_invitations",
    summary="Invitations made, without their codes",
    response_model=list[InvitationOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_invitations(actor: ClinicStaffDep, session: ReadSessionDep) -> list[PatientInvitation]:
    """Whether each was redeemed or expired; codes are never shown again."""
    return service.invitations(session, actor.clinic_id)
