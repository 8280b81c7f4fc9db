"""Who is calling: the bearer token, checked against the database on every request.

Checking the account and the sign-in family each time means a disabled user
or a revoked sign-in stops working at once, not when the token expires.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.deps import DatabaseDep
from app.core.errors import UnauthorizedError
from app.core.jwt import InvalidTokenError, TokenCodec
from app.identity.models import User
from app.identity.service import Principal, principal_from_access_token

TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a path, not a secret)

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Sign in with your email as `username` and your password.",
)

BearerToken = Annotated[str | None, Depends(bearer_scheme)]


async def get_token_codec(request: Request) -> TokenCodec:
    codec: TokenCodec = request.app.state.tokens
    return codec


TokenCodecDep = Annotated[TokenCodec, Depends(get_token_codec)]


def resolve_principal(database: DatabaseDep, codec: TokenCodec, token: str) -> Principal:
    """The principal behind `token`, or a 401 that says the token does not hold."""
    with database.read_session() as session:
        try:
            return principal_from_access_token(session, token, codec)
        except InvalidTokenError as exc:
            raise UnauthorizedError(
                "The access token is invalid, expired or revoked. Sign in again.",
                invalid_token=True,
            ) from exc


def optional_principal(
    database: DatabaseDep, codec: TokenCodecDep, token: BearerToken
) -> Principal | None:
    """No token: an anonymous caller. A token that does not hold: 401, never anonymous."""
    if token is None:
        return None
    return resolve_principal(database, codec, token)


def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise UnauthorizedError("Sign in first: this needs a bearer token.")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def current_user(principal: PrincipalDep) -> User:
    return principal.user


CurrentUserDep = Annotated[User, Depends(current_user)]
