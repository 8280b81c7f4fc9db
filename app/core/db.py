"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is tuned as measured in the engineering notes: WAL so readers never
wait for the writer, a busy timeout so writers queue instead of failing, and
write transactions that begin IMMEDIATE: a deferred transaction that reads and
then writes gets SQLITE_BUSY at once, whatever the timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar

from anyio import Lock
from anyio.lowlevel import RunVar
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

from app.core.changes import ChangeHub, take
from app.core.config import Settings
from app.core.driver import send_deferred
from app.core.errors import ProblemError
from app.core.group_commit import GroupCommit, StagedWork

T = TypeVar("T")

_BEGIN_MODE = "sqlite_begin_mode"
SQLITE_BUSY_TIMEOUT_MS = 5000  # how long a writer outside the request queue waits for the lock
# Requests do their database work in anyio's worker threads (40 by default), and a
# session keeps its connection until the request's dependency exits. With fewer
# connections than threads, threads queue in the pool, which is not first come first
# served: at 64 concurrent requests (`make soak`) some waited out the 30 s pool
# timeout and answered 500. So every worker thread can hold a connection at once;
# connections above POOL_SIZE are closed again when the load drops. These are the
# defaults of DATABASE_POOL_SIZE and DATABASE_MAX_OVERFLOW; several instances on one
# PostgreSQL size them against its max_connections (docs/deploy.md).
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


def create_db_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = POOL_SIZE,
    max_overflow: int = POOL_OVERFLOW,
    pool_timeout: float = 30.0,
    prepared_statements: bool = True,
) -> Engine:
    """Build an engine for `url`; SQLite files get their folder and pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        pool = (
            {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
            if parsed.database and parsed.database != ":memory:"
            else {}  # one shared in-memory connection: no pool to size
        )
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, **pool)
        _configure_sqlite(engine)
        return engine
    # psycopg prepares a statement on the server after its fifth run; behind PgBouncer in
    # transaction mode the next run may reach another server connection, which lacks it.
    connect_args = {} if prepared_statements else {"prepare_threshold": None}
    engine = create_engine(
        url,
        echo=echo,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )
    _ping_when_idle(engine)
    event.listen(engine, "before_cursor_execute", _deferred_first)
    return engine


# A pooled connection answered within this long is handed out as it is; one idle for
# longer is pinged first, and replaced if the ping fails (a restart, a dropped connection).
# Pinging every checkout cost a round trip per request, and one per group of session
# writes, on connections that had answered a moment before.
PING_AFTER_IDLE_SECONDS = 1.0
# Kept in the pool record's `info`, which lasts as long as its DBAPI connection.
_ANSWERED_AT = "answered_at"


def _ping_when_idle(engine: Engine) -> None:
    def answered(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_ANSWERED_AT] = monotonic()

    def check(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if monotonic() - record.info.get(_ANSWERED_AT, 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("the connection did not answer its ping")
        record.info[_ANSWERED_AT] = monotonic()

    # The pool replaces a connection whose check raises DisconnectionError, then tries again.
    event.listen(engine, "connect", answered)
    event.listen(engine, "checkin", answered)
    event.listen(engine, "checkout", check)


def _deferred_first(
    _connection: Connection,
    cursor: DBAPICursor,
    _statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    """What a group deferred (its savepoints, `_Savepoints`) goes before any ORM statement."""
    send_deferred(cursor)


class Database:
    """One engine per process, and the two kinds of session it hands out.

    Every write session's recorded changes (`app.core.changes`) go to `changes`
    once its transaction has committed, and nowhere if it rolled back.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.changes = ChangeHub()
        # On SQLite a writing session takes the write lock when it begins; on
        # PostgreSQL the option is ignored and row locks do the work.
        self._write_engine = engine.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})
        self._writer_turn: RunVar[Lock] | None = (
            RunVar("sqlite_writer_turn") if self.is_sqlite else None
        )
        self._groups: RunVar[GroupCommit] = RunVar("group_commit")

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            create_db_engine(
                settings.resolved_database_url,
                echo=settings.sql_echo,
                pool_size=settings.database_pool_size,
                max_overflow=settings.database_max_overflow,
                pool_timeout=settings.database_pool_timeout_seconds,
                prepared_statements=settings.database_prepared_statements,
            )
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def writers_take_turns(self) -> bool:
        """Whether writers wait for their turn in the event loop (`turn_to_write`)."""
        return self._writer_turn is not None

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session that commits once when the block succeeds, rolls back otherwise."""
        with Session(self._write_engine, expire_on_commit=False) as session:
            try:
                yield session
                self._commit(session)
            except ProblemError as exc:
                if exc.keeps_changes:
                    self._commit(session)
                else:
                    session.rollback()
                    take(session)
                raise
            except BaseException:
                session.rollback()
                take(session)
                raise

    def _commit(self, session: Session) -> None:
        session.commit()
        self.changes.publish(take(session))

    async def write(self, work: StagedWork[T], *, order: int = 0) -> T:
        """Run the staged write `work`, committed together with the writes queued with it
        (`app.core.group_commit`); answered once its group has committed.

        A group runs its writes by `order` (the person written; arrival order within one),
        so every group takes its row locks in one order: groups of two instances that
        took them in arrival order deadlocked on PostgreSQL.
        """
        try:
            group = self._groups.get()
        except LookupError:  # the first hot write on this event loop
            group = GroupCommit(self)
            self._groups.set(group)
        return await group.submit(work, order)

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
