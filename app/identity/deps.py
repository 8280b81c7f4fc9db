"""Which callers a route admits, as typed dependencies over the one subject.

Every request's subject is made once, by `Authenticator` from the bearer token
(`current_subject`); each alias below admits some subjects and refuses the rest
with one shape: no token or one that does not hold is a 401 with a Bearer
challenge, a caller of the wrong kind a 403 (or a 401 where a person must sign
in). Each reads the header itself rather than through another dependency:
every level of dependencies costs on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.access.policy import Role
from app.core.deps import SETTINGS
from app.core.errors import ForbiddenError, UnauthorizedError
from app.core.jwt import TokenCodec
from app.core.state import StateKey
from app.identity.auth import AUTHENTICATOR
from app.identity.mfa import StaffNeedSecondFactorError
from app.identity.models import User
from app.identity.subject import ClientSubject, Subject, UserSubject

TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a path, not a secret)
TOKEN_CODEC = StateKey[TokenCodec]("token_codec")

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Sign in with your email as `username` and your password.",
)

BearerToken = Annotated[str | None, Depends(bearer_scheme)]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, as OAuth2PasswordBearer reads it."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" else None


async def subject_of(request: Request, token: str | None) -> Subject:
    """The one way from a bearer token to the request's subject (cached per token)."""
    return await AUTHENTICATOR.of(request).subject(token)


def person(subject: Subject) -> UserSubject:
    """A signed-in person, or a 401: anonymous callers and API clients are not people."""
    if isinstance(subject, UserSubject):
        return subject
    if isinstance(subject, ClientSubject):
        raise UnauthorizedError(
            "An API client's token cannot act for a person: sign in as one.", invalid_token=True
        )
    raise UnauthorizedError("Sign in first: this needs a bearer token.")


async def current_subject(request: Request, token: BearerToken) -> Subject:
    return await subject_of(request, token)


async def signed_in(request: Request, token: BearerToken) -> UserSubject:
    return person(await subject_of(request, token))


async def current_user(request: Request, token: BearerToken) -> User:
    return person(await subject_of(request, token)).user


def require_second_factor(request: Request, subject: UserSubject) -> None:
    """Staff (admins, clinic clinicians and owners) act only from a sign-in that passed a
    second factor, when MFA_REQUIRED_FOR_STAFF is on."""
    if subject.second_factor or not SETTINGS.of(request).staff_need_second_factor:
        return
    raise StaffNeedSecondFactorError(
        "Staff sign in with a second factor. Turn on two-step sign-in "
        "(POST /v1/me/mfa/totp, then POST /v1/me/mfa/totp/confirm), or, if it is on, "
        "sign in again with the code from your authenticator app."
    )


async def current_admin(request: Request, token: BearerToken) -> User:
    """The signed-in admin. No token or a bad one: 401; anyone else, API clients too: 403."""
    subject = await subject_of(request, token)
    if isinstance(subject, ClientSubject):
        raise ForbiddenError("API clients cannot do this: it is for administrators.")
    signed_in = person(subject)
    if signed_in.role != Role.ADMIN:
        raise ForbiddenError("Only administrators may do this.")
    require_second_factor(request, signed_in)
    return signed_in.user


async def get_token_codec(request: Request) -> TokenCodec:
    return TOKEN_CODEC.of(request)


# Anyone: anonymous, a person or an API client (a token that does not hold is still a 401).
SubjectDep = Annotated[Subject, Depends(current_subject)]
# A signed-in person with their sign-in (logout, password changes).
SignedInDep = Annotated[UserSubject, Depends(signed_in)]
# A signed-in person's account.
CurrentUserDep = Annotated[User, Depends(current_user)]
# An administrator.
AdminDep = Annotated[User, Depends(current_admin)]
TokenCodecDep = Annotated[TokenCodec, Depends(get_token_codec)]
