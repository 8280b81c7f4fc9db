"""Clinics and their staff: create and list clinics, read one, list and remove its staff.

Staff join by accepting an invitation (`app.clinics.routers.staff`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from app.access.policy import Role
from app.clinics import service
from app.clinics.deps import ClinicActorDep, ClinicOwnerDep, ClinicStaffDep, clinic_router
from app.clinics.models import Clinic, ClinicMember
from app.clinics.schemas import ClinicCreate, ClinicOut, MemberOut
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import ForbiddenError, error_responses
from app.identity.deps import CurrentUserDep, SignedInDep, require_second_factor
from app.identity.models import User

router = APIRouter(prefix="/v1/clinics", tags=["clinics"])
clinic = clinic_router(tags=["clinics"])

ACTOR_ERRORS = (401, 403, 404, 422)
UserIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The member's user id.")]


def _member(member: ClinicMember, user: User) -> MemberOut:
    return MemberOut.model_validate(
        {
            "user_id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": member.role,
            "added_at": member.added_at,
        }
    )


@router.post(
    "",
    name="create_clinic",
    summary="Create a clinic (admins)",
    status_code=status.HTTP_201_CREATED,
    response_model=ClinicOut,
    responses=error_responses(401, 403, 422),
)
def create_clinic(
    body: ClinicCreate,
    session: SessionDep,
    principal: SignedInDep,
    request: Request,
    response: Response,
) -> Clinic:
    """An API client's token is never a person's (401)."""
    user = principal.user
    if user.role != Role.ADMIN:
        raise ForbiddenError("Only administrators create clinics.")
    require_second_factor(request, principal)
    created = service.create_clinic(session, name=body.name, admin=user)
    response.headers["Location"] = f"/v1/clinics/{created.id}"
    return created


@router.get(
    "",
    name="list_clinics",
    summary="Clinics you belong to (all of them, for admins)",
    response_model=list[ClinicOut],
    responses=error_responses(401),
)
def list_clinics(session: ReadSessionDep, user: CurrentUserDep) -> list[Clinic]:
    """The clinics whose staff you are on; an administrator sees every clinic."""
    return service.clinics_of(session, user)


@clinic.get(
    "",
    name="get_clinic",
    summary="A clinic",
    response_model=ClinicOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_clinic(actor: ClinicActorDep, session: ReadSessionDep) -> Clinic:
    """The clinic's name and when it was made. Anyone outside the clinic gets 404."""
    return service.get_clinic(session, actor.clinic_id)


@clinic.get(
    "/members",
    name="list_members",
    summary="The clinic's owners and clinicians",
    response_model=list[MemberOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_members(actor: ClinicStaffDep, session: ReadSessionDep) -> list[MemberOut]:
    """Each member's role and when they joined. Staff join only by accepting an invitation."""
    return [_member(m, u) for m, u in service.members(session, actor.clinic_id)]


@clinic.delete(
    "/members/{user_id}",
    name="remove_member",
    summary="Remove a member (owners, admins)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 422),
)
def remove_member(user_id: UserIdPath, actor: ClinicOwnerDep, session: SessionDep) -> Response:
    """Owners and admins. The last owner cannot be removed (409); the person's sign-ins keep
    working elsewhere, but this clinic answers them 404 at once."""
    service.remove_member(session, clinic_id=actor.clinic_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
