"""Who is calling: the bearer token, checked against the account and its sign-in.

The check reads the database, so a disabled user or a revoked sign-in stops
working within seconds (the short per-token memory below), not when the token
expires. Routes that change an account read it afresh in their own transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.access.viewer_cache import TokenCache
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


async def _principal_of(request: Request, token: str) -> Principal:
    """The principal behind `token` (a 401 when it does not hold).

    A checked token is remembered for `VIEWER_CACHE_SECONDS` (a couple of seconds) and
    forgotten at once when its person signs out, changes password or profile here; so
    a disabled account or a sign-in revoked elsewhere stops working within seconds.
    """
    state = request.app.state
    principals: TokenCache[Principal] = state.principals
    return await principals.get_or_load(
        token,
        lambda: resolve_principal(state.db, state.tokens, token),
        lambda principal: principal.user.id or 0,
    )


# Each of these reads the bearer token itself rather than through another dependency:
# every level of dependencies costs on every request.


async def optional_principal(request: Request, token: BearerToken) -> Principal | None:
    """No token: an anonymous caller. A token that does not hold: 401, never anonymous."""
    return None if token is None else await _principal_of(request, token)


async def current_principal(request: Request, token: BearerToken) -> Principal:
    if token is None:
        raise UnauthorizedError("Sign in first: this needs a bearer token.")
    return await _principal_of(request, token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_user(request: Request, token: BearerToken) -> User:
    return (await current_principal(request, token)).user


CurrentUserDep = Annotated[User, Depends(current_user)]
