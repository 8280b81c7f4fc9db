"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is tuned as measured in the engineering notes: WAL so readers never
wait for the writer, a busy timeout so writers queue instead of failing, and
write transactions that begin IMMEDIATE: a deferred transaction that reads and
then writes gets SQLITE_BUSY at once, whatever the timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from anyio import Lock, to_thread
from anyio.lowlevel import RunVar
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session, create_engine

from app.core.config import Settings
from app.core.errors import ProblemError

T = TypeVar("T")

_BEGIN_MODE = "sqlite_begin_mode"
SQLITE_BUSY_TIMEOUT_MS = 5000  # how long a writer outside the request queue waits for the lock
# Requests do their database work in anyio's worker threads (40 by default), and a
# session keeps its connection until the request's dependency exits. With fewer
# connections than threads, threads queue in the pool, which is not first come first
# served: at 64 concurrent requests (`make soak`) some waited out the 30 s pool
# timeout and answered 500. So every worker thread can hold a connection at once;
# connections above POOL_SIZE are closed again when the load drops.
POOL_SIZE, POOL_OVERFLOW = 10, 40


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """Build an engine for `url`; SQLite files get their folder and pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        pool = (
            {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
            if parsed.database and parsed.database != ":memory:"
            else {}  # one shared in-memory connection: no pool to size
        )
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, **pool)
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )


class Database:
    """One engine per process, and the two kinds of session it hands out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # On SQLite a writing session takes the write lock when it begins; on
        # PostgreSQL the option is ignored and row locks do the work.
        self._write_engine = engine.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})
        self._writer_turn: RunVar[Lock] | None = (
            RunVar("sqlite_writer_turn") if self.is_sqlite else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(create_db_engine(settings.resolved_database_url, echo=settings.sql_echo))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session that commits once when the block succeeds, rolls back otherwise."""
        with Session(self._write_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except ProblemError as exc:
                if exc.keeps_changes:
                    session.commit()
                else:
                    session.rollback()
                raise
            except BaseException:
                session.rollback()
                raise

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write session, in one worker thread, in this process's turn.

        For hot write routes: one thread hop for opening, the work and the commit,
        where a session dependency plus a `def` route take three.
        """
        async with self.turn_to_write():
            return await to_thread.run_sync(self._write_with, work)

    def _write_with(self, work: Callable[[Session], T]) -> T:
        with self.write_session() as session:
            return work(session)

    @asynccontextmanager
    async def turn_to_write(self) -> AsyncIterator[None]:
        """On SQLite, a request's write session waits here, in the event loop, for its turn.

        Under load (`make soak`: 64 connections) writers waited for SQLite's lock inside
        worker threads, and all of them together could hold every thread while the
        writer that had the lock needed one more to finish its request: nothing moved
        until the busy timeout failed the waiters with "database is locked" (500s).
        Waiting here holds no thread, and the turns go first come, first served.
        """
        if self._writer_turn is None:
            yield
            return
        try:
            turn = self._writer_turn.get()
        except LookupError:  # the first writer on this event loop
            turn = Lock()
            self._writer_turn.set(turn)
        async with turn:
            yield

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only: closing it rolls back, so nothing it does is kept."""
        with Session(self.engine) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
