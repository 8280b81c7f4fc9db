"""What arrives by mail: proving an address, and resetting a forgotten password."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from app.core.config import Settings
from app.core.db import Database
from app.core.deps import DATABASE, SessionDep, SettingsDep
from app.core.errors import ConflictError, error_responses
from app.core.models import utcnow
from app.core.ratelimit import RATE_LIMITER, account_key, client_address
from app.identity import lifecycle, service
from app.identity.deps import CurrentUserDep
from app.identity.mails import lifetimes_of, mail_context
from app.identity.schemas import (
    Accepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    VerifyEmailIn,
)

router = APIRouter(prefix="/v1")


@router.post(
    "/auth/verify-email",
    tags=["auth"],
    name="verify_email",
    summary="Confirm an address with the token from its mail (registration or a change)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(409, 422),
)
def verify_email(body: VerifyEmailIn, session: SessionDep, settings: SettingsDep) -> Response:
    """No sign-in needed: the token is the proof. A token for a new address makes it the
    account's address, and the old address is told."""
    lifecycle.verify_email(session, body.token, mail=mail_context(settings), now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/verify-email/resend",
    tags=["auth"],
    name="resend_verification",
    summary="Send the verification mail again",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(401, 409, 429),
)
def resend_verification(
    session: SessionDep, user: CurrentUserDep, settings: SettingsDep, request: Request
) -> Accepted:
    """At most a few an hour (429 with Retry-After beyond); 409 once the address is verified."""
    if user.email_verified:
        raise ConflictError("Your address is already verified.")
    RATE_LIMITER.of(request).hit(
        settings.verify_resend_rate_per_account, scope="verify-resend", key=str(user.id)
    )
    lifecycle.send_verification(
        session,
        service.fresh_user(session, user),
        mail=mail_context(settings),
        lifetimes=lifetimes_of(settings),
        now=utcnow(),
    )
    return Accepted(detail="A new verification mail is on its way.")


RESET_ACCEPTED = (
    "If an account has this address, a mail with a reset link is on its way. "
    "It works once, for a limited time."
)


def _send_reset(database: Database, settings: Settings, email: str) -> None:
    with database.write_session() as session:
        lifecycle.request_password_reset(
            session,
            email,
            mail=mail_context(settings),
            lifetimes=lifetimes_of(settings),
            now=utcnow(),
        )


@router.post(
    "/auth/password-reset",
    tags=["auth"],
    name="request_password_reset",
    summary="Forgot the password: a reset link by mail (the same answer for any address)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(422, 429),
)
def request_password_reset(
    body: PasswordResetRequest,
    settings: SettingsDep,
    request: Request,
    background: BackgroundTasks,
) -> Accepted:
    """Answers 202 alike, in the same time, whether or not the address has an account: the
    lookup and the mail happen after the answer is sent."""
    limiter = RATE_LIMITER.of(request)
    limiter.hit(settings.reset_rate_per_address, scope="reset-ip", key=client_address(request))
    limiter.hit(settings.reset_rate_per_account, scope="reset-acct", key=account_key(body.email))
    background.add_task(_send_reset, DATABASE.of(request), settings, str(body.email))
    return Accepted(detail=RESET_ACCEPTED)


@router.post(
    "/auth/password-reset/confirm",
    tags=["auth"],
    name="confirm_password_reset",
    summary="Set a new password with the token from the reset mail; every sign-in ends",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(409, 422),
)
def confirm_password_reset(
    body: PasswordResetConfirm, session: SessionDep, settings: SettingsDep
) -> Response:
    """The token works once and dies when the password changes; 409 for a spent or expired
    token. Every sign-in ends, so every device signs in again."""
    lifecycle.reset_password(
        session, body.token, body.new_password, mail=mail_context(settings), now=utcnow()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
