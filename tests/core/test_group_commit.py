"""Hot writes that arrive together are committed together, and each still stands alone."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.authoring.content import bump_content_version
from app.catalog.loading import read_content_version
from app.catalog.models import ContentVersion
from app.core.db import Database
from app.core.errors import NotFoundError
from app.core.group_commit import Staged, StagedWork, Step, run_through
from tests.together import submit_together

Work = StagedWork[Any]


def bump(session: Session) -> Staged[int]:
    yield Step.ONE_BY_ONE  # ORM statements
    bump_content_version(session)
    return read_content_version(session)


def refuse_after(work: Work) -> Work:
    def refused(session: Session) -> Staged[Any]:
        yield from work(session)
        raise NotFoundError("No such thing.")

    return refused


def version(database: Database) -> int:
    with database.read_session() as session:
        return read_content_version(session)


def test_writes_that_arrive_together_are_committed_in_one_transaction(
    database: Database, commits: list[int]
) -> None:
    outcomes = submit_together(database, [bump] * 10)

    assert sorted(outcomes) == list(range(1, 11))  # each saw its own write, in order
    assert version(database) == 10
    assert len(commits) == 1


def test_a_refused_write_does_not_undo_the_others_in_its_group(database: Database) -> None:
    outcomes = submit_together(database, [bump, refuse_after(bump), bump])

    assert outcomes[0] == 1
    assert isinstance(outcomes[1], NotFoundError)
    assert outcomes[2] == 2  # the refused bump was rolled back before this one ran
    assert version(database) == 2


def test_a_refused_write_leaves_nothing_it_had_not_saved_yet(database: Database) -> None:
    def add_unsaved_version(session: Session) -> Staged[None]:
        yield Step.ONE_BY_ONE
        session.add(ContentVersion(id=1, version=99))  # pending, never flushed

    outcomes = submit_together(database, [refuse_after(add_unsaved_version), bump])

    assert isinstance(outcomes[0], NotFoundError)
    assert outcomes[1] == 1
    assert version(database) == 1


def refuse_at_once(_session: Session) -> Staged[Any]:
    yield from ()
    raise NotFoundError("No such thing.")


def test_a_write_refused_before_it_ran_a_statement_leaves_the_others_as_they_were(
    database: Database,
) -> None:
    outcomes = submit_together(database, [bump, refuse_at_once, bump, refuse_at_once, bump])

    assert [outcomes[0], outcomes[2], outcomes[4]] == [1, 2, 3]
    assert all(isinstance(outcomes[i], NotFoundError) for i in (1, 3))
    assert version(database) == 3


def test_a_write_that_fails_before_it_ran_a_statement_leaves_its_connection_clean(
    database: Database,
) -> None:
    """Savepoints may wait for a write's first statement (PostgreSQL): one that never
    came must not reach whoever uses the connection next."""

    def crash_at_once(_session: Session) -> Staged[None]:
        yield from ()
        raise RuntimeError("a bug")

    outcomes = submit_together(database, [bump, crash_at_once])
    assert outcomes[0] == 1
    assert isinstance(outcomes[1], RuntimeError)

    assert submit_together(database, [bump, bump]) == [2, 3]
    with database.write_session() as session:
        assert run_through(bump(session)) == 4


def test_a_write_that_breaks_the_transaction_fails_alone_and_the_others_land(
    database: Database,
) -> None:
    def duplicate_key(session: Session) -> Staged[None]:
        yield Step.ONE_BY_ONE
        bump_content_version(session)
        session.execute(
            text(
                "INSERT INTO content_version (id, version, updated_at) "
                "VALUES (1, 1, CURRENT_TIMESTAMP)"
            )
        )

    outcomes = submit_together(database, [bump, duplicate_key, bump])

    assert outcomes[0] == 1
    assert isinstance(outcomes[1], Exception)
    assert not isinstance(outcomes[1], NotFoundError)
    assert outcomes[2] == 2  # run again alone after the group was rolled back
    assert version(database) == 2


def test_a_write_whose_request_is_cancelled_is_still_committed(database: Database) -> None:
    """A client that gives up waiting does not undo what it sent."""

    async def send_then_give_up() -> None:
        request = asyncio.create_task(database.write(bump))
        await asyncio.sleep(0)  # the write is queued
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        for _ in range(500):  # the group is still being written in its thread
            if version(database) == 1:
                return
            await asyncio.sleep(0.01)

    asyncio.run(send_then_give_up())

    assert version(database) == 1


def test_writes_queued_meanwhile_are_written_while_the_event_loop_is_busy(
    database: Database,
) -> None:
    """On PostgreSQL the writer goes straight on to the next group: a busy event loop
    (answering other requests) does not hold the next group back."""
    if database.is_sqlite:
        pytest.skip("SQLite gives its writer turn back after each group")
    first_in_thread, second_queued = threading.Event(), threading.Event()
    written: dict[str, float] = {}

    def first(session: Session) -> Staged[int]:
        first_in_thread.set()
        second_queued.wait(timeout=5)
        return (yield from bump(session))

    def second(session: Session) -> Staged[int]:
        value = yield from bump(session)
        written["second"] = time.monotonic()
        return value

    async def busy_while_queued() -> float:
        writes = [asyncio.create_task(database.write(first))]
        await asyncio.to_thread(first_in_thread.wait, 5)
        writes.append(asyncio.create_task(database.write(second)))
        await asyncio.sleep(0)  # the second write is queued
        second_queued.set()
        time.sleep(1.0)  # noqa: ASYNC251 (the event loop runs nothing else meanwhile)
        busy_until = time.monotonic()
        assert sorted(await asyncio.gather(*writes)) == [1, 2]
        return busy_until

    busy_until = asyncio.run(busy_while_queued())

    assert written["second"] < busy_until
