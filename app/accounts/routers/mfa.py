"""Your second factor: an authenticator app and recovery codes (two-step sign-in).

Turning it on takes two requests: `POST /v1/me/mfa/totp` with your password answers
a key and an `otpauth://` URI to show as a QR code; `POST /v1/me/mfa/totp/confirm`
with a code from the app turns it on and answers ten recovery codes, shown once.
From then on the password grant also needs `otp`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.clinics.service import is_staff
from app.core.deps import ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.identity import mfa
from app.identity.deps import SignedInDep
from app.identity.mails import mail_context
from app.identity.mfa import SECOND_FACTOR_KEYS
from app.identity.schemas import (
    CodeIn,
    RecoveryCodesOut,
    SecondFactorOff,
    SecondFactorOut,
    TotpEnrolmentOut,
    TotpStart,
)
from app.identity.service import fresh_user

router = APIRouter(prefix="/v1/me/mfa", tags=["me"])


def _private(response: Response) -> None:
    response.headers["Cache-Control"] = "private, no-store"


@router.get(
    "",
    name="get_my_second_factor",
    summary="Whether two-step sign-in is on, and whether it is required of you",
    response_model=SecondFactorOut,
    responses=error_responses(401),
)
def get_my_second_factor(
    session: ReadSessionDep, principal: SignedInDep, settings: SettingsDep, response: Response
) -> mfa.SecondFactorStatus:
    """Whether an authenticator app is set up, how many recovery codes are left, and whether
    your role requires it (`MFA_REQUIRED_FOR_STAFF`)."""
    _private(response)
    required = settings.staff_need_second_factor and is_staff(session, principal.user)
    return mfa.status(session, principal, required=required)


@router.post(
    "/totp",
    name="start_totp",
    summary="Start turning on two-step sign-in: a key for your authenticator app",
    status_code=status.HTTP_201_CREATED,
    response_model=TotpEnrolmentOut,
    responses=error_responses(401, 409, 422),
)
def start_totp(
    body: TotpStart,
    session: SessionDep,
    principal: SignedInDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> mfa.Enrolment:
    """Nothing changes at sign-in until you confirm with a code from the app. Starting again
    before confirming replaces the key."""
    _private(response)
    return mfa.begin_totp(
        session,
        fresh_user(session, principal.user),
        password=body.password,
        keys=SECOND_FACTOR_KEYS.of(request),
        issuer=settings.mfa_issuer,
    )


@router.post(
    "/totp/confirm",
    name="confirm_totp",
    summary="Turn on two-step sign-in with a code from the app; answers recovery codes",
    response_model=RecoveryCodesOut,
    responses=error_responses(401, 409, 422),
)
def confirm_totp(
    body: CodeIn,
    session: SessionDep,
    principal: SignedInDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> RecoveryCodesOut:
    """This sign-in counts as having passed the second factor; every later sign-in asks for
    a code."""
    _private(response)
    codes = mfa.confirm_totp(
        session,
        principal,
        code=body.code,
        keys=SECOND_FACTOR_KEYS.of(request),
        mail=mail_context(settings),
        now=utcnow(),
    )
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/recovery-codes",
    name="renew_recovery_codes",
    summary="A new set of recovery codes (the old set stops working)",
    response_model=RecoveryCodesOut,
    responses=error_responses(401, 409, 422),
)
def renew_recovery_codes(
    body: CodeIn,
    session: SessionDep,
    principal: SignedInDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> RecoveryCodesOut:
    """Needs a current code from the authenticator app. The ten new codes are shown once; the
    previous set stops working."""
    _private(response)
    codes = mfa.renew_recovery_codes(
        session,
        principal,
        code=body.code,
        keys=SECOND_FACTOR_KEYS.of(request),
        mail=mail_context(settings),
        now=utcnow(),
    )
    return RecoveryCodesOut(recovery_codes=codes)


@router.delete(
    "",
    name="turn_off_second_factor",
    summary="Turn off two-step sign-in (your password and a code)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 409, 422),
)
def turn_off_second_factor(
    body: SecondFactorOff,
    session: SessionDep,
    principal: SignedInDep,
    settings: SettingsDep,
    request: Request,
) -> Response:
    """Your sign-ins stay, but no longer count as having passed it: where it is required of
    you, admin and clinic routes answer 403 until you turn it on again."""
    mfa.disable(
        session,
        principal,
        password=body.password,
        code=body.code,
        keys=SECOND_FACTOR_KEYS.of(request),
        mail=mail_context(settings),
        now=utcnow(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
