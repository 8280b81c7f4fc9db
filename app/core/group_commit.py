"""Hot writes that arrive together, committed together: one transaction per group.

For the hottest write route (logging a session). Writes that arrive while a group
is being written wait in the event loop and go as the next group: one worker-thread
hop, one transaction and one commit (on PostgreSQL, one WAL flush) for all of them.
Each write still stands alone: one that is refused leaves the others as they were,
and a write is answered only once its group has committed.

A hot write is *staged*: a generator that yields a `Step` wherever its statements
reach a batch boundary. Run straight (`run_through`), the steps change nothing. On
PostgreSQL a group runs its writes in lockstep: every write sends its first batch,
then every write sends its next, and so on, the batches of one round pipelined
together and the same statement of every write sent once for all of them (one
execution with arrays where the statement has an `at_once` form, else an executemany;
`app.core.rounds.in_round`). A new session then costs a share of the group's round
trips and statements, not its own: the group waits on the server no more often than
one write alone (psycopg answers an executemany whose rows are read before the next
statement is sent, so a round waits once for each of those and once at its end).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from anyio import to_thread
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session

from app.core.driver import defer, driver_cursor, take_deferred
from app.core.errors import ProblemError
from app.core.rounds import in_round

if TYPE_CHECKING:
    from app.core.db import Database

T = TypeVar("T")


class Step(Enum):
    """Where a staged write stands when it yields."""

    READ = "read"  # it sent a batch that changes nothing (look-ups, row locks)
    WROTE = "wrote"  # it sent a batch that writes rows
    # What follows runs its statements one at a time (the ORM reads a result's shape as
    # soon as it executes, which a pipeline defers): the write leaves the lockstep.
    ONE_BY_ONE = "one_by_one"


# A staged write: a generator of steps whose return value is the write's answer. Until it
# yields ONE_BY_ONE, it runs only driver statements (`app.core.driver`).
Staged = Generator[Step, None, T]
StagedWork = Callable[[Session], Staged[T]]


def run_through(steps: Staged[T]) -> T:
    """Run a staged write to its end, each batch answered before the next is sent."""
    while True:
        try:
            next(steps)
        except StopIteration as end:
            value: T = end.value
            return value


@dataclass(frozen=True, slots=True)
class _Done:
    """How one write of a group ended: its value, or the exception to raise for it."""

    value: Any = None
    error: Exception | None = None


class _LeftLockstep(Exception):  # noqa: N818 (a signal, not an error anyone sees)
    """A write that had sent rows could not finish in lockstep: the group goes one by one."""


class GroupWriter:
    """Writes one group in one transaction, in the fewest round trips the store allows."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._postgresql = database.engine.dialect.name == "postgresql"

    def write(self, works: Sequence[StagedWork[Any]]) -> list[_Done]:
        """Run every write of `works` in one transaction, committed once.

        A refusal (`ProblemError`) is that write's answer and the rest go on. Anything
        else (a lost lock, a broken connection, a bug), or a write that cannot finish in
        lockstep after sending rows, rolls the group back; it runs again one by one, each
        write in its own savepoint, and if that fails too, each write alone.
        """
        if self._postgresql:  # in lockstep first
            try:
                return self._in_transaction(self._in_lockstep, works)
            except Exception:  # noqa: S110 (written again below, one by one)
                pass
        try:
            return self._in_transaction(self._one_by_one, works)
        except Exception:
            return [self._alone(work) for work in works]

    def _in_transaction(
        self,
        run: Callable[[Session, DBAPICursor, Sequence[StagedWork[Any]]], list[_Done]],
        works: Sequence[StagedWork[Any]],
    ) -> list[_Done]:
        with (
            self._database.write_session() as session,
            closing(driver_cursor(session)) as cursor,
        ):
            return run(session, cursor, works)

    def _one_by_one(
        self, session: Session, cursor: DBAPICursor, works: Sequence[StagedWork[Any]]
    ) -> list[_Done]:
        savepoints = _Savepoints(cursor, deferred=self._postgresql)
        try:
            return [self._in_savepoint(session, savepoints, work(session)) for work in works]
        finally:
            savepoints.close()

    def _in_lockstep(
        self, session: Session, cursor: DBAPICursor, works: Sequence[StagedWork[Any]]
    ) -> list[_Done]:
        """Rounds of one pipelined batch per write; then, each in its own savepoint, the
        writes that left the lockstep before they sent a row (a replay, a replacement).

        A write refused before it sent a row leaves nothing to undo but the row locks it
        holds until the commit (and its person's change counter made, unmoved, if missing).
        """
        done: dict[int, _Done] = {}
        live = {index: work(session) for index, work in enumerate(works)}  # nothing runs yet
        wrote: set[int] = set()
        later: dict[int, Staged[Any]] = {}
        savepoints = _Savepoints(cursor, deferred=True)
        try:
            self._rounds(cursor, live, wrote, later, done)
            session.flush()  # what the rounds queued on the ORM (outbox rows), in one go
            for index, steps in later.items():
                done[index] = self._in_savepoint(session, savepoints, steps)
        except BaseException:  # the group is left half-way: close what is suspended, now
            for steps in (*live.values(), *later.values()):
                steps.close()
            raise
        finally:
            savepoints.close()
        return [done[index] for index in range(len(works))]

    @staticmethod
    def _rounds(
        cursor: DBAPICursor,
        live: dict[int, Staged[Any]],
        wrote: set[int],
        later: dict[int, Staged[Any]],
        done: dict[int, _Done],
    ) -> None:
        """Advance every live write by one batch a round, all of a round pipelined together,
        until each has ended (`done`) or left for `later`."""
        while live:
            # The round's batches go together, the same statement of every write in one
            # executemany (`in_round`).
            with in_round(cursor) as lanes:
                for index, steps in list(live.items()):
                    lanes.lane = index
                    try:
                        step = next(steps)
                    except StopIteration as end:
                        done[index] = _Done(value=end.value)
                    except ProblemError as exc:
                        if index in wrote and not exc.keeps_changes:
                            raise _LeftLockstep from exc
                        done[index] = _Done(error=exc)
                    else:
                        if step is Step.WROTE:
                            wrote.add(index)
                        if step is not Step.ONE_BY_ONE:
                            continue
                        if index in wrote:
                            raise _LeftLockstep
                        later[index] = steps
                    del live[index]

    @staticmethod
    def _in_savepoint(session: Session, savepoints: _Savepoints, steps: Staged[Any]) -> _Done:
        """Run the rest of `steps` in a savepoint of its own."""
        savepoints.open()
        try:
            value = run_through(steps)
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

    def _alone(self, work: StagedWork[Any]) -> _Done:
        try:
            with self._database.write_session() as session:
                return _Done(value=run_through(work(session)))
        except Exception as exc:
            return _Done(error=exc)


class _Savepoints:
    """The one savepoint each write of a group runs in, at the fewest round trips.

    A write that succeeded is released when the next write's savepoint is made (or by
    the commit). On PostgreSQL both wait for the next write's first statement and go in
    its round trip (`app.core.driver.defer`): a write then costs the round trips of its
    own statements, and nothing for its savepoint.
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


GROUP_LIMIT = 64  # writes per transaction: bounds how long the writer turn is held
_Queued = tuple[StagedWork[Any], "asyncio.Future[Any]", int]  # work, answer, order


class GroupCommit:
    """The hot writes queued on one event loop, written a group at a time.

    While a group is in its worker thread, new writes queue here, in the event loop;
    the next group takes them all. Under load a group holds many writes, so the
    thread hop, the transaction and the commit are paid once per group instead of
    once per write. On PostgreSQL the worker thread goes straight on to the next group
    while writes are queued, answering each group as it commits: a hop back to a busy
    event loop between groups cost the writer about a fifth of its time.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._writer = GroupWriter(database)
        # Appended to in the event loop, taken from in the worker thread (both atomic).
        self._queue: deque[_Queued] = deque()
        self._task: asyncio.Task[None] | None = None
        # Where writers take turns (SQLite), the turn goes back after each group, so other
        # writes get theirs in order (`Database.turn_to_write`).
        self._one_group_a_turn = database.writers_take_turns

    async def submit(self, work: StagedWork[T], order: int = 0) -> T:
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, answer, order))
        if self._task is None:
            self._task = asyncio.create_task(self._write_queued())
        try:
            # The write goes on even if this request is cancelled: it is only answered late.
            return await asyncio.shield(answer)
        except asyncio.CancelledError:
            answer.add_done_callback(_unheard)
            raise

    async def _write_queued(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            # Checked here, in the event loop, where writes are queued: one queued after
            # the thread found none is written by the next hop.
            while self._queue:
                async with self._database.turn_to_write():
                    await to_thread.run_sync(self._write_groups, loop)
        finally:
            self._task = None
            # Only when the writer itself is cancelled (the loop shutting down): the
            # queued writes are answered as cancelled (a group in the thread is answered
            # by the thread).
            while self._queue:
                _, answer, _ = self._queue.popleft()
                if not answer.done():
                    answer.cancel()

    def _write_groups(self, loop: asyncio.AbstractEventLoop) -> None:
        """In the worker thread: write the queued writes a group at a time, each group
        answered in the event loop as soon as it committed, until none is queued."""
        while self._queue:
            group = self._take_group()
            try:
                done = self._writer.write([work for work, _, _ in group])
            except Exception as exc:  # every request of the group hears of it
                done = [_Done(error=exc)] * len(group)
            try:
                loop.call_soon_threadsafe(_answer, group, done)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return
            if self._one_group_a_turn:
                return

    def _take_group(self) -> list[_Queued]:
        group: list[_Queued] = []
        while self._queue and len(group) < GROUP_LIMIT:
            group.append(self._queue.popleft())
        group.sort(key=lambda queued: queued[2])  # stable: arrival order within one
        return group


def _answer(group: list[_Queued], done: list[_Done]) -> None:
    """In the event loop: each write of a committed group hears how it ended."""
    for (_, answer, _), outcome in zip(group, done, strict=True):
        if answer.done():
            continue
        if outcome.error is not None:
            answer.set_exception(outcome.error)
        else:
            answer.set_result(outcome.value)


def _unheard(answer: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a write whose request was cancelled: no one else will."""
    if not answer.cancelled():
        answer.exception()
