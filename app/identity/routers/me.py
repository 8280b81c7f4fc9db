"""The signed-in person's own account: profile, password, address, sign-ins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.core.deps import ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.identity import lifecycle, service
from app.identity.deps import CurrentUserDep, SignedInDep
from app.identity.mails import lifetimes_of, mail_context
from app.identity.models import User
from app.identity.schemas import (
    Accepted,
    EmailChange,
    MeUpdate,
    PasswordChange,
    SignInOut,
    UserOut,
)

router = APIRouter(prefix="/v1/me", tags=["me"])
SignInIdPath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


def _private(response: Response) -> None:
    response.headers["Cache-Control"] = "private, no-store"


@router.get(
    "",
    name="get_me",
    summary="Your account",
    response_model=UserOut,
    responses=error_responses(401),
)
def get_me(user: CurrentUserDep, response: Response) -> User:
    """Your profile: address and whether it is verified, display name, role."""
    _private(response)
    return user


@router.patch(
    "",
    name="update_me",
    summary="Change your display name",
    response_model=UserOut,
    responses=error_responses(401, 422),
)
def update_me(
    body: MeUpdate, session: SessionDep, user: CurrentUserDep, response: Response
) -> User:
    """Only the display name changes here; the address changes through `POST /v1/me/email`
    (confirmed by mail)."""
    _private(response)
    return service.update_me(session, service.fresh_user(session, user), body)


@router.post(
    "/password",
    name="change_password",
    summary="Change your password; every other sign-in ends",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 422),
)
def change_password(body: PasswordChange, session: SessionDep, principal: SignedInDep) -> Response:
    """Needs the current password. The sign-in that changed it stays; every other one ends."""
    service.change_password(
        session,
        service.fresh_user(session, principal.user),
        current=body.current_password,
        new=body.new_password,
        keep_family=principal.family_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/email",
    name="change_email",
    summary="Change your address: confirmed from a mail to the new one",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(401, 422),
)
def change_email(
    body: EmailChange, session: SessionDep, user: CurrentUserDep, settings: SettingsDep
) -> Accepted:
    """Your account keeps its address until the link mailed to the new one is opened;
    then the old address is told. Needs your current password."""
    lifecycle.request_email_change(
        session,
        service.fresh_user(session, user),
        new_email=str(body.email),
        current_password=body.current_password,
        mail=mail_context(settings),
        lifetimes=lifetimes_of(settings),
        now=utcnow(),
    )
    return Accepted(detail="A confirmation mail is on its way to the new address.")


@router.get(
    "/sign-ins",
    name="list_sign_ins",
    summary="Your devices that are signed in",
    response_model=list[SignInOut],
    responses=error_responses(401),
)
def list_sign_ins(
    session: ReadSessionDep, principal: SignedInDep, response: Response
) -> list[SignInOut]:
    """Each sign-in (a device) with its name, when it began and when it was last used."""
    _private(response)
    return [
        SignInOut(
            id=family.id,
            device=family.device,
            created_at=family.created_at,
            last_used_at=family.last_used_at,
            current=family.id == principal.family_id,
        )
        for family in service.sign_ins(session, principal.user_id)
    ]


@router.delete(
    "/sign-ins/{sign_in_id}",
    name="end_sign_in",
    summary="Sign a device out: its tokens stop working at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
def end_sign_in(sign_in_id: SignInIdPath, session: SessionDep, principal: SignedInDep) -> Response:
    """Its access and refresh tokens stop working on their next use. Another person's sign-in is
    a 404."""
    service.end_sign_in(session, user_id=principal.user_id, family_id=sign_in_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
