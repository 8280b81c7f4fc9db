"""Who may manage content (admins only), the session content writes use, and If-Match."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import contextmanager_in_threadpool
from sqlmodel import Session

from app.access.policy import Role
from app.catalog.cache import CatalogCache
from app.core.deps import DatabaseDep
from app.core.errors import ForbiddenError, UnauthorizedError
from app.core.jwt import InvalidTokenError, TokenType
from app.identity.deps import BearerToken, TokenCodecDep
from app.identity.models import User
from app.identity.service import principal_from_access_token


def current_admin(database: DatabaseDep, codec: TokenCodecDep, token: BearerToken) -> User:
    """The signed-in admin. No token or a bad one: 401; anyone else, API clients too: 403."""
    if token is None:
        raise UnauthorizedError("Sign in first: content management needs an admin's token.")
    with database.read_session() as session:
        try:
            user = principal_from_access_token(session, token, codec).user
        except InvalidTokenError as exc:
            if _is_client_token(codec, token):
                raise ForbiddenError("API clients cannot manage content.") from exc
            raise UnauthorizedError(
                "The access token is invalid, expired or revoked. Sign in again.",
                invalid_token=True,
            ) from exc
    if user.role != Role.ADMIN:
        raise ForbiddenError("Only admins manage content.")
    return user


def _is_client_token(codec: TokenCodecDep, token: str) -> bool:
    try:
        codec.decode(token, expected=TokenType.CLIENT)
    except InvalidTokenError:
        return False
    return True


AdminDep = Annotated[User, Depends(current_admin)]


async def content_session(request: Request, database: DatabaseDep) -> AsyncIterator[Session]:
    """The request's write session; once it has committed, this process forgets its
    catalogue snapshot, so the very next read serves the edit (other processes notice
    the content version within `content_poll_seconds`).

    Like every request's write session it waits for the process's writer turn on
    SQLite, so an edit never races session writes for the lock until the busy timeout.
    """
    async with (
        database.turn_to_write(),
        contextmanager_in_threadpool(database.write_session()) as session,
    ):
        yield session
    catalog: CatalogCache = request.app.state.catalog
    catalog.invalidate()


ContentSessionDep = Annotated[Session, Depends(content_session, scope="function")]

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1000,
        description="The ETag of the document as you read it (required; 428 without, "
        "412 when it changed since).",
    ),
]
