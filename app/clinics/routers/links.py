"""The patient's side of consent: redeem a clinic's code, list the links, withdraw."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.clinics import service
from app.clinics.deps import ClinicIdPath
from app.clinics.schemas import LinkCreate, LinkOut
from app.core.deps import ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.core.ratelimit import RATE_LIMITER
from app.identity.deps import CurrentUserDep

router = APIRouter(prefix="/v1/me/clinic-links", tags=["clinic links"])


@router.post(
    "",
    name="link_clinic",
    summary="Consent to a clinic by redeeming its invitation code",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkOut,
    responses=error_responses(401, 403, 409, 422, 429),
)
def link_clinic(
    body: LinkCreate,
    session: SessionDep,
    user: CurrentUserDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> LinkOut:
    """Needs a verified address (403 `email-not-verified` otherwise). An unknown, spent or
    expired code is one 422 on `code`, without saying which; 409 if already linked. Queues
    `link.created`."""
    RATE_LIMITER.of(request).hit(settings.redeem_rate_per_account, scope="redeem", key=str(user.id))
    link = service.redeem(
        session,
        patient=user,
        code=body.code,
        codes=service.INVITATION_CODES.of(request),
        now=utcnow(),
    )
    clinic = service.get_clinic(session, link.clinic_id)
    response.headers["Location"] = "/v1/me/clinic-links"
    return LinkOut.model_validate(
        {"clinic_id": clinic.id, "clinic_name": clinic.name, "linked_at": link.created_at}
    )


@router.get(
    "",
    name="list_clinic_links",
    summary="Clinics you have consented to",
    response_model=list[LinkOut],
    responses=error_responses(401),
)
def list_clinic_links(session: ReadSessionDep, user: CurrentUserDep) -> list[LinkOut]:
    """The clinics you consented to, and since when."""
    assert user.id is not None
    return [
        LinkOut.model_validate(
            {"clinic_id": clinic.id, "clinic_name": clinic.name, "linked_at": link.created_at}
        )
        for link, clinic in service.links_of(session, user.id)
    ]


@router.delete(
    "/{clinic_id}",
    name="unlink_clinic",
    summary="Withdraw consent: the clinic sees nothing more of you, at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
def unlink_clinic(clinic_id: ClinicIdPath, session: SessionDep, user: CurrentUserDep) -> Response:
    """At once: the clinic's routes answer 404 about you, queued deliveries about you are
    cancelled, and only `link.revoked` is sent."""
    assert user.id is not None
    service.withdraw(session, patient_id=user.id, clinic_id=clinic_id, now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
