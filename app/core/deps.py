"""Request-scoped dependencies shared by every domain, as named `Annotated` aliases.

Dependencies that do no I/O are `async def`: FastAPI runs a plain `def`
dependency in a worker thread, a costly hop for reading an attribute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import contextmanager_in_threadpool
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import Database
from app.core.media import MediaSigner
from app.core.state import StateKey

DATABASE = StateKey[Database]("database")
SETTINGS = StateKey[Settings]("settings")
MEDIA_SIGNER = StateKey[MediaSigner]("media_signer")


async def get_database(request: Request) -> Database:
    return DATABASE.of(request)


async def get_settings_for_request(request: Request) -> Settings:
    return SETTINGS.of(request)


async def get_media_signer(request: Request) -> MediaSigner:
    return MEDIA_SIGNER.of(request)


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings_for_request)]
MediaSignerDep = Annotated[MediaSigner, Depends(get_media_signer)]


async def get_session(database: DatabaseDep) -> AsyncIterator[Session]:
    """One session per request that commits once, before the response is sent.

    On SQLite it first waits for the process's writer turn (see `Database.turn_to_write`);
    opening and committing run in worker threads, as for a plain `def` dependency.
    """
    async with (
        database.turn_to_write(),
        contextmanager_in_threadpool(database.write_session()) as session,
    ):
        yield session


def get_read_session(database: DatabaseDep) -> Iterator[Session]:
    """For routes that only read: a deferred transaction, so on SQLite (WAL) readers never
    queue behind the write lock the way IMMEDIATE write sessions do."""
    with database.read_session() as session:
        yield session


# scope="function": the commit happens before the response leaves, so a
# failed commit is reported to the caller instead of silently losing the write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
