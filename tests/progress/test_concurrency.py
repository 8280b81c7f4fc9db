"""Racing writers: several devices (real threads, one transaction each) at the same moment.

Each worker does what one request does: it takes the writer's turn a request
takes, opens its own `write_session()` and calls the service. A `ProblemError`
is the refusal a client would get; any other exception (an IntegrityError, a
deadlock, "database is locked") escapes and fails the test.

On PostgreSQL a request's turn is no wait at all, so the threads race on the
database's own row locks. On SQLite requests take turns in the event loop
(`Database.turn_to_write`), first come, first served, and never wait out the
busy timeout against each other; these threads take the same kind of turn. Left
to SQLite's busy handler, which serves waiters in no order, one of eight threads
was seen to starve past the 5 s timeout on a loaded machine.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.core.db import Database
from app.core.errors import ProblemError
from app.core.group_commit import run_through
from app.progress import evaluation, service
from app.progress.models import (
    Enrollment,
    SessionEntry,
    SessionLog,
    SessionSequence,
    StageChange,
    StageChangeReason,
)
from app.progress.sessions import write
from tests.conftest import Person
from tests.progress.conftest import PutSession
from tests.progress.tiny import NOW, STAGES, body, enroll

WORKERS = 8

T = TypeVar("T")


def race(work: Callable[[], T], workers: int = WORKERS) -> list[T | ProblemError]:
    """Run `work` in `workers` threads released together; a ProblemError is a refusal."""
    barrier = threading.Barrier(workers, timeout=30)

    def one() -> T | ProblemError:
        barrier.wait()
        try:
            return work()
        except ProblemError as refusal:
            return refusal

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one) for _ in range(workers)]
        # .result() re-raises anything that was not a ProblemError: the test fails on it.
        return [future.result(timeout=60) for future in futures]


def writer_turns(database: Database) -> Callable[[], AbstractContextManager[object]]:
    """The turn each request's write takes: one at a time on SQLite, none on PostgreSQL."""
    if not database.is_sqlite:
        return nullcontext
    turn = threading.Lock()
    return lambda: turn


def in_transaction(database: Database, work: Callable[[Session], T]) -> Callable[[], T]:
    """What one request does: its turn, its own write session, committed when `work` returns."""
    turn = writer_turns(database)

    def run() -> T:
        with turn(), database.write_session() as session:
            return work(session)

    return run


class TestSameSessionFromManyDevices:
    @pytest.mark.parametrize("workers", [2, WORKERS])
    def test_one_uuid_put_at_once_is_stored_once_with_its_entries_once(
        self,
        database: Database,
        snapshot: CatalogSnapshot,
        put: PutSession,
        tiny: ProgramEntry,
        member: Person,
        workers: int,
    ) -> None:
        enroll(database, member, tiny)
        session_id = uuid.uuid4()
        the_body = body()

        def put_once(session: Session) -> write.Outcome:
            return run_through(put(member, session_id, the_body)(session)).outcome

        outcomes = race(in_transaction(database, put_once), workers)

        refusals = [o for o in outcomes if isinstance(o, ProblemError)]
        assert refusals == [], [r.detail for r in refusals]
        assert all(isinstance(o, write.Outcome) for o in outcomes)
        # One device made it; every other one found it there (replaced or unchanged).
        assert outcomes.count(write.Outcome.CREATED) == 1
        with database.read_session() as session:
            logs = list(session.exec(select(SessionLog).where(SessionLog.id == str(session_id))))
            entries = list(
                session.exec(select(SessionEntry).where(SessionEntry.session_id == str(session_id)))
            )
            last_seq = session.exec(
                select(SessionSequence.last_seq).where(SessionSequence.user_id == member.id)
            ).one()
        assert len(logs) == 1
        assert sorted((e.position, e.exercise_id) for e in entries) == [
            (1, snapshot.exercise_by_slug["ex-a"].id),
            (2, snapshot.exercise_by_slug["ex-b"].id),
        ]
        # The stored row carries the last change number handed out: a feed cursor sees it.
        assert logs[0].seq == last_seq
        assert logs[0].deleted_at is None


class TestAdvanceRace:
    def test_many_advances_at_once_move_exactly_one_stage(
        self,
        database: Database,
        put: PutSession,
        tiny: ProgramEntry,
        member: Person,
    ) -> None:
        enroll(database, member, tiny, days_ago=10)
        for days_ago in (3, 2, 1):
            with database.write_session() as session:
                earlier = body(performed_at=NOW - timedelta(days=days_ago))
                run_through(put(member, uuid.uuid4(), earlier)(session))
        with database.read_session() as session:
            before = evaluation.enrollment_state(session, user_id=member.id, program=tiny, now=NOW)
        assert before.evaluation is not None
        assert before.evaluation.can_advance, before.evaluation.hint()

        def advance(session: Session) -> int:
            state = service.advance(session, user_id=member.id, program=tiny, now=NOW)
            return state.enrollment.current_stage

        outcomes = race(in_transaction(database, advance))

        moved = [o for o in outcomes if not isinstance(o, ProblemError)]
        refused = [o for o in outcomes if isinstance(o, ProblemError)]
        assert moved == [2]
        assert len(refused) == WORKERS - 1
        assert {r.status for r in refused} == {409}
        with database.read_session() as session:
            enrollment = session.exec(
                select(Enrollment).where(Enrollment.user_id == member.id)
            ).one()
            changes = list(
                session.exec(
                    select(StageChange)
                    .where(StageChange.enrollment_id == enrollment.id)
                    .order_by(col(StageChange.id))
                )
            )
        assert enrollment.current_stage == 2
        assert enrollment.completed_at is None
        assert [(c.from_stage, c.to_stage, c.reason) for c in changes] == [
            (None, 1, StageChangeReason.ENROLLED),
            (1, 2, StageChangeReason.RULE),
        ]


class TestEnrollRace:
    def test_enrolling_at_once_from_many_devices_enrolls_once(
        self,
        database: Database,
        tiny: ProgramEntry,
        member: Person,
    ) -> None:
        def enroll_now(session: Session) -> int:
            enrollment = service.enroll(session, user_id=member.id, program=tiny, now=NOW)
            assert enrollment.id is not None
            return enrollment.id

        outcomes = race(in_transaction(database, enroll_now))

        refused = [o for o in outcomes if isinstance(o, ProblemError)]
        assert len(refused) == WORKERS - 1
        assert {r.status for r in refused} == {409}
        with database.read_session() as session:
            enrollments = session.exec(
                select(func.count()).select_from(Enrollment).where(Enrollment.user_id == member.id)
            ).one()
            changes = session.exec(select(func.count()).select_from(StageChange)).one()
        assert enrollments == 1
        assert changes == 1


class TestManySessionsOfOnePerson:
    def test_concurrent_puts_of_different_sessions_all_succeed_with_unique_seq(
        self,
        database: Database,
        put: PutSession,
        tiny: ProgramEntry,
        member: Person,
    ) -> None:
        enroll(database, member, tiny)
        per_worker = 5
        turn = writer_turns(database)

        def put_several() -> list[write.Outcome]:
            # Each session in its own transaction, as separate requests would be.
            outcomes: list[write.Outcome] = []
            for _ in range(per_worker):
                with turn(), database.write_session() as session:
                    outcome = run_through(put(member, uuid.uuid4())(session)).outcome
                outcomes.append(outcome)
            return outcomes

        results = race(put_several)

        refusals = [r for r in results if isinstance(r, ProblemError)]
        assert refusals == [], [r.detail for r in refusals]
        flat = [o for r in results if not isinstance(r, ProblemError) for o in r]
        total = WORKERS * per_worker
        assert flat == [write.Outcome.CREATED] * total
        with database.read_session() as session:
            seqs = list(session.exec(select(SessionLog.seq).where(SessionLog.user_id == member.id)))
            entries = session.exec(
                select(func.count())
                .select_from(SessionEntry)
                .where(SessionEntry.user_id == member.id)
            ).one()
            last_seq = session.exec(
                select(SessionSequence.last_seq).where(SessionSequence.user_id == member.id)
            ).one()
        # Every change got its own number, none skipped: the counter is gap-free under load.
        assert sorted(seqs) == list(range(1, total + 1))
        assert last_seq == total
        assert entries == total * len(STAGES[0])
