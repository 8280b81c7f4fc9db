"""Registration, the OAuth2 token endpoint and logout. What arrives by mail (proving an
address, resetting a forgotten password) is in `routers/mail.py`."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal, NoReturn
from urllib.parse import unquote

import anyio
from fastapi import APIRouter, Depends, Form, Request, Response, status

from app.core.config import Settings
from app.core.deps import SessionDep, SettingsDep
from app.core.errors import InvalidInputError, ProblemError, error_responses
from app.core.jwt import TokenCodec, TokenType
from app.core.models import utcnow
from app.core.ratelimit import RATE_LIMITER, RateLimiter, client_address
from app.core.schemas import NulFreeStr
from app.identity import lifecycle, mfa, service
from app.identity.deps import SignedInDep, TokenCodecDep
from app.identity.mails import lifetimes_of, mail_context
from app.identity.mfa import SECOND_FACTOR_KEYS
from app.identity.models import User
from app.identity.passwords import MAX_LENGTH
from app.identity.schemas import (
    RegisterIn,
    TokenOut,
    UserOut,
)
from app.identity.signin import SignInGuard

router = APIRouter(prefix="/v1")

GrantType = Literal["password", "refresh_token", "client_credentials"]
FormText = Annotated[NulFreeStr | None, Form(max_length=4096)]


class OAuthError(ProblemError):
    """An RFC 6749 token error, as a problem document with the OAuth `error` code."""

    status = 400
    type = "/problems/oauth"

    def __init__(self, detail: str, *, error: str) -> None:
        super().__init__(detail, extra={"error": error})


class InvalidClientError(OAuthError):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_client")


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    client_id, secret = unquote(client_id), unquote(secret)
    # PostgreSQL refuses NUL in a text parameter: such a client cannot exist.
    if not sep or "\x00" in client_id + secret:
        return None
    return client_id, secret


def _client_token(
    session: SessionDep,
    settings: SettingsDep,
    codec: TokenCodec,
    request: Request,
    client_id: str | None,
    client_secret: str | None,
    scope: str | None,
) -> TokenOut:
    basic = _basic_credentials(request)
    if basic is not None:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise InvalidClientError("client_id and client_secret are required.")
    _limiter(request).hit(
        settings.login_rate_per_address, scope="client-ip", key=client_address(request)
    )
    client = service.authenticate_client(session, client_id, client_secret)
    if client is None:
        raise InvalidClientError("Unknown client or wrong secret.")
    granted = set(client.scopes)
    wanted = set(scope.split()) if scope else granted
    if not wanted <= granted:
        raise OAuthError("The client does not have every scope asked for.", error="invalid_scope")
    ttl = settings.client_token_minutes * 60
    token, _ = codec.encode(
        subject=f"client:{client.id}",
        token_type=TokenType.CLIENT,
        ttl_seconds=ttl,
        extra={"cid": client.clinic_id, "scope": " ".join(sorted(wanted))},
    )
    return TokenOut(access_token=token, expires_in=ttl)


def _limiter(request: Request) -> RateLimiter:
    return RATE_LIMITER.of(request)


def _private(response: Response) -> None:
    response.headers["Cache-Control"] = "private, no-store"


@router.post(
    "/auth/register",
    tags=["auth"],
    name="register",
    summary="Create an account; a mail asks to confirm the address",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=error_responses(409, 422, 429),
)
def register(
    body: RegisterIn,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> User:
    """Passwords of 10 to 128 characters, not a common one. The address must be confirmed from
    the mail before linking to a clinic or joining its staff. Limited per address."""
    _limiter(request).hit(
        settings.register_rate_per_address, scope="register", key=client_address(request)
    )
    user = service.register(session, body)
    lifecycle.send_verification(
        session,
        user,
        mail=mail_context(settings),
        lifetimes=lifetimes_of(settings),
        now=utcnow(),
    )
    response.headers["Location"] = "/v1/me"
    _private(response)
    return user


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def form_fields_only(request: Request) -> None:
    """Name the form-versus-JSON mistake, rather than report every form field as missing."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type not in FORM_TYPES:
        raise OAuthError(
            f"The token endpoint takes form fields (application/x-www-form-urlencoded), not "
            f"{media_type}: send grant_type=password&username=...&password=... (or "
            "grant_type=refresh_token / client_credentials with their fields) as a form.",
            error="invalid_request",
        )


async def pace_sign_in(
    request: Request,
    settings: SettingsDep,
    username: Annotated[NulFreeStr | None, Form(max_length=320, description="Your email.")] = None,
) -> None:
    """Attempts on an account under siege wait a moment before the password is checked:
    in the event loop, so a wait holds no worker thread. (Only the password grant names
    a username.)"""
    if username:
        delay = SignInGuard(_limiter(request), settings).delay(username)
        if delay:
            await anyio.sleep(delay)


@router.post(
    "/auth/token",
    tags=["auth"],
    name="issue_token",
    dependencies=[Depends(form_fields_only), Depends(pace_sign_in)],
    summary="Sign in (password), exchange a refresh token, or get an API client's token",
    response_model=TokenOut,
    responses=error_responses(400, 401, 422, 429),
)
def issue_token(
    session: SessionDep,
    settings: SettingsDep,
    codec: TokenCodecDep,
    request: Request,
    response: Response,
    grant_type: Annotated[
        GrantType,
        Form(description="`password`, `refresh_token`, or `client_credentials` (API clients)."),
    ],
    username: Annotated[NulFreeStr | None, Form(max_length=320, description="Your email.")] = None,
    password: Annotated[NulFreeStr | None, Form(max_length=MAX_LENGTH)] = None,
    refresh_token: FormText = None,
    scope: FormText = None,
    client_id: Annotated[NulFreeStr | None, Form(max_length=64)] = None,
    client_secret: Annotated[NulFreeStr | None, Form(max_length=256)] = None,
    device_name: Annotated[
        NulFreeStr | None,
        Form(
            max_length=100,
            description="What the app calls this device, for your sign-ins.",
        ),
    ] = None,
    otp: Annotated[
        NulFreeStr | None,
        Form(
            max_length=20,
            description="With `password`, for accounts with two-step sign-in: the code from "
            "the authenticator app, or a recovery code.",
        ),
    ] = None,
) -> TokenOut:
    """OAuth2 token endpoint (form-encoded, so the Authorize button in `/docs` works).

    - `password`: `username` (email) and `password` -> access and refresh tokens. An
      account with two-step sign-in also needs `otp`; without it the answer is a 400 whose
      `error` is `mfa_required`: ask for the code and send all three again.
    - `refresh_token`: `refresh_token` -> a new pair; each refresh token works once.
    - `client_credentials`: a clinic API client's `client_id` and `client_secret`
      (form fields or HTTP Basic) -> a short access token bound to that clinic and
      the client's scopes (or the subset asked for in `scope`). It cannot act as a user.
    """
    _private(response)
    if grant_type == "password":
        if not username or not password:
            raise InvalidInputError.for_field(
                "body.username", "username and password are required", "missing"
            )
        guard = SignInGuard(_limiter(request), settings)
        guard.admit(username, client_address(request))
        user = service.authenticate(session, username, password)
        if user is None:
            _failed(session, settings, guard, username, "The email or password is not correct.")
        passed_at = _second_factor(session, settings, request, guard, user, username, otp)
        device = device_name or request.headers.get("user-agent")
        pair = service.start_session(
            session, user, codec, settings, device=device, second_factor_at=passed_at
        )
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise InvalidInputError.for_field(
                "body.refresh_token", "refresh_token is required", "missing"
            )
        pair = service.rotate_refresh_token(session, refresh_token, codec, settings)
    else:
        return _client_token(session, settings, codec, request, client_id, client_secret, scope)
    return TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


def _failed(
    session: SessionDep, settings: Settings, guard: SignInGuard, username: str, detail: str
) -> NoReturn:
    told = guard.failed(session, username, mail=mail_context(settings), now=utcnow())
    if told:
        raise service.ToldInvalidGrantError(detail)
    raise service.InvalidGrantError(detail)


def _second_factor(
    session: SessionDep,
    settings: Settings,
    request: Request,
    guard: SignInGuard,
    user: User,
    username: str,
    otp: str | None,
) -> datetime | None:
    """When the sign-in passed the account's second factor; None if it has none. A wrong
    code counts as a failed sign-in, like a wrong password."""
    assert user.id is not None
    if mfa.confirmed_factor(session, user.id) is None:
        return None
    if not otp:
        raise mfa.SecondFactorRequiredError()
    now = utcnow()
    if not mfa.verify(session, user, otp, SECOND_FACTOR_KEYS.of(request), now):
        _failed(session, settings, guard, username, "The code is not correct, or was used.")
    return now


@router.post(
    "/auth/logout",
    tags=["auth"],
    name="logout",
    summary="Sign out: end this sign-in and every token issued to it",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
)
def logout(session: SessionDep, principal: SignedInDep) -> Response:
    """Ends the sign-in the token belongs to: its access and refresh tokens stop working at
    once. Other devices stay signed in."""
    service.revoke_family(session, principal.family_id, reason="logout")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
