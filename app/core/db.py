"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is tuned as measured in the engineering notes: WAL so readers never
wait for the writer, a busy timeout so writers queue instead of failing, and
write transactions that begin IMMEDIATE: a deferred transaction that reads and
then writes gets SQLITE_BUSY at once, whatever the timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from anyio import Lock, to_thread
from anyio.lowlevel import RunVar
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session, create_engine

from app.core.changes import ChangeHub, take
from app.core.config import Settings
from app.core.driver import defer, driver_cursor, send_deferred, take_deferred
from app.core.errors import ProblemError

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
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )
    event.listen(engine, "before_cursor_execute", _deferred_first)
    return engine


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
        self._groups: RunVar[_GroupCommit] = RunVar("group_commit")

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

    async def write(self, work: Callable[[Session], T], *, order: int = 0) -> T:
        """Run `work` in a write session, committed together with the writes queued with it.

        For the hottest write route (logging a session). Writes that arrive while
        another group is being written wait in the event loop and go as the next group:
        one worker-thread hop, one transaction and one commit for all of them, each in
        its own savepoint, so a write that is refused leaves the others as they were.
        A write is answered only once its group has committed.

        A group runs its writes by `order` (the person written; arrival order within one),
        so every group takes its row locks in one order: groups of two instances that
        took them in arrival order deadlocked on PostgreSQL.
        """
        try:
            group = self._groups.get()
        except LookupError:  # the first hot write on this event loop
            group = _GroupCommit(self)
            self._groups.set(group)
        return await group.submit(work, order)

    def _write_with(self, work: Callable[[Session], T]) -> T:
        with self.write_session() as session:
            return work(session)

    def write_group(self, works: Sequence[Callable[[Session], Any]]) -> list[_Done]:
        """Run each of `works` in its own savepoint of one transaction, committed once.

        A refusal (`ProblemError`) rolls its own savepoint back and the rest go on. Anything
        else (a lost lock, a broken connection, a bug) may have spoiled the transaction:
        the group is rolled back and each write runs again alone, so no write suffers
        for another's failure.
        """
        done: list[_Done] = []
        try:
            with self.write_session() as session, closing(driver_cursor(session)) as cursor:
                savepoints = _Savepoints(cursor, deferred=self.engine.dialect.name == "postgresql")
                try:
                    for work in works:
                        done.append(self._in_savepoint(session, savepoints, work))
                finally:
                    savepoints.close()
        except Exception:
            return [self._alone(work) for work in works]
        return done

    @staticmethod
    def _in_savepoint(
        session: Session, savepoints: _Savepoints, work: Callable[[Session], Any]
    ) -> _Done:
        savepoints.open()
        try:
            value = work(session)
            session.flush()
        except ProblemError as exc:
            if exc.keeps_changes:
                session.flush()
                savepoints.release()
            else:
                savepoints.roll_back()
                # The session may hold objects of the rolled-back write: forget them all
                # (every earlier write was flushed) so later writes read the database.
                session.expunge_all()
            return _Done(error=exc)
        savepoints.release()
        return _Done(value=value)

    def _alone(self, work: Callable[[Session], Any]) -> _Done:
        try:
            return _Done(value=self._write_with(work))
        except Exception as exc:
            return _Done(error=exc)

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


class _Savepoints:
    """The one savepoint each write of a group runs in, at the fewest round trips.

    A write that succeeded is released when the next write's savepoint is made (or by
    the commit). On PostgreSQL both wait for the next write's first statement and go in
    its round trip (`app.core.driver.defer`): a new session then costs the round trips
    of its own statements, and nothing for its savepoint.
    """

    NAME = "group_write"

    def __init__(self, cursor: DBAPICursor, *, deferred: bool) -> None:
        """`deferred`: savepoints wait for the next statement (which must then come from this
        connection's engine or driver statements, both of which send them first)."""
        self._cursor = cursor
        self._release_pending = False
        self._deferred = deferred

    def open(self) -> None:
        release = [f"RELEASE SAVEPOINT {self.NAME}"] if self._release_pending else []
        if self._deferred:
            defer(self._cursor.connection, *release, f"SAVEPOINT {self.NAME}")
        else:
            for statement in (*release, f"SAVEPOINT {self.NAME}"):
                self._cursor.execute(statement)
        self._release_pending = False

    def release(self) -> None:
        self._release_pending = True

    def roll_back(self) -> None:
        if self._deferred:
            unsent = take_deferred(self._cursor.connection)
            if unsent:  # the write sent nothing, so there is nothing to undo but its savepoint
                self._release_pending = len(unsent) > 1  # the write before's still waits
                return
        self._cursor.execute(f"ROLLBACK TO SAVEPOINT {self.NAME}")
        self._cursor.execute(f"RELEASE SAVEPOINT {self.NAME}")

    def close(self) -> None:
        """Forget what still waits: the commit releases every savepoint, a rollback undoes
        them, and the connection must go back to its pool with nothing deferred."""
        if self._deferred:
            take_deferred(self._cursor.connection)


@dataclass(frozen=True, slots=True)
class _Done:
    """How one write of a group ended: its value, or the exception to raise for it."""

    value: Any = None
    error: Exception | None = None


GROUP_LIMIT = 64  # writes per transaction: bounds how long the writer turn is held
_Queued = tuple[Callable[[Session], Any], "asyncio.Future[Any]", int]  # work, answer, order


class _GroupCommit:
    """The hot writes queued on one event loop, written a group at a time.

    While a group is in its worker thread, new writes queue here, in the event loop;
    the next group takes them all. Under load a group holds many writes, so the
    thread hop, the transaction and the commit (on PostgreSQL, its WAL flush) are paid
    once per group instead of once per write.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queue: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, work: Callable[[Session], T], order: int = 0) -> T:
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, answer, order))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued())
        try:
            # The write goes on even if this request is cancelled: it is only answered late.
            return await asyncio.shield(answer)
        except asyncio.CancelledError:
            answer.add_done_callback(_unheard)
            raise

    async def _write_queued(self) -> None:
        group: list[_Queued] = []
        try:
            while self._queue:
                group, self._queue = self._queue[:GROUP_LIMIT], self._queue[GROUP_LIMIT:]
                group.sort(key=lambda queued: queued[2])  # stable: arrival order within one
                works = [work for work, _, _ in group]
                try:
                    async with self._database.turn_to_write():
                        done = await to_thread.run_sync(self._database.write_group, works)
                except Exception as exc:  # every request of the group hears of it
                    done = [_Done(error=exc)] * len(group)
                for (_, answer, _), outcome in zip(group, done, strict=True):
                    if answer.done():
                        continue
                    if outcome.error is not None:
                        answer.set_exception(outcome.error)
                    else:
                        answer.set_result(outcome.value)
        finally:
            self._writer = None
            # Only when the writer itself is cancelled (the loop shutting down): the
            # group in its thread and the queued writes are answered as cancelled.
            for _, answer, _ in (*group, *self._queue):
                if not answer.done():
                    answer.cancel()
            self._queue = []


def _unheard(answer: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a write whose request was cancelled: no one else will."""
    if not answer.cancelled():
        answer.exception()
