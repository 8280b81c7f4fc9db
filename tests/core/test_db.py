"""Storage behaviour that concurrent writers rely on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest
from anyio import CapacityLimiter, to_thread
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlmodel import select

from app.authoring.content import bump_content_version
from app.catalog.loading import read_content_version
from app.catalog.models import ContentVersion
from app.core import db
from app.core.db import Database, create_db_engine
from tests.conftest import Person


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite pragmas")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_concurrent_read_then_write_transactions_all_succeed(database: Database) -> None:
    """Eight writers each read the version and write it back: none fails, none is lost."""
    writers, rounds = 8, 10

    def writer(_: int) -> None:
        for _ in range(rounds):
            with database.write_session() as session:
                read_content_version(session)
                bump_content_version(session)

    with database.write_session() as session:
        bump_content_version(session)
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(writer, range(writers)))
    with database.read_session() as session:
        assert read_content_version(session) == 1 + writers * rounds


def test_a_failed_write_session_keeps_nothing(database: Database) -> None:
    def write_then_fail() -> None:
        with database.write_session() as session:
            bump_content_version(session)
            raise RuntimeError("fail after writing")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with database.read_session() as session:
        assert session.exec(select(ContentVersion)).all() == []


def test_sqlite_request_writers_wait_their_turn_without_holding_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers that waited for SQLite's lock inside worker threads could hold every
    thread while the lock holder needed one more to finish its request: the waiters then
    failed with "database is locked" (500s at 64 connections). Waiting for the turn in
    the event loop, 16 writers share 4 threads and every write lands."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 50)
    database = Database(create_db_engine(f"sqlite:///{tmp_path / 'queue.db'}"))
    writers, threads = 16, CapacityLimiter(4)

    def insert(n: int) -> None:
        with database.write_session() as session:
            session.execute(text("INSERT INTO visit (n) VALUES (:n)"), {"n": n})
            time.sleep(0.03)  # a request still at work: the queue outlasts 50 ms

    async def request(n: int) -> None:
        async with database.turn_to_write():
            await to_thread.run_sync(insert, n, limiter=threads)
            await to_thread.run_sync(time.sleep, 0.01, limiter=threads)  # the response

    async def many_requests() -> None:
        async with anyio.create_task_group() as group:
            for n in range(writers):
                group.start_soon(request, n)

    try:
        with database.write_session() as session:
            session.execute(text("CREATE TABLE visit (n INTEGER NOT NULL)"))
        anyio.run(many_requests)
        with database.read_session() as session:
            assert session.execute(text("SELECT count(*) FROM visit")).scalar_one() == writers
    finally:
        database.dispose()


async def _worker_threads() -> int:
    """How many threads run requests' sync work at once (anyio's default limiter)."""
    return int(to_thread.current_default_thread_limiter().total_tokens)


def test_every_request_thread_can_hold_a_connection_at_once(tmp_path: Path) -> None:
    """Threads beyond the pool queued in it unfairly, and at 64 concurrent requests some
    waited out the pool timeout (500s): the pool now has room for every worker thread."""
    threads = anyio.run(_worker_threads)
    database = Database(create_db_engine(f"sqlite:///{tmp_path / 'pool.db'}"))
    all_connected = threading.Barrier(threads, timeout=10)

    def request(_: int) -> None:
        with database.read_session() as session:
            session.execute(text("SELECT 1"))
            all_connected.wait()  # keeps its connection until every thread has one

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(request, range(threads)))
    finally:
        database.dispose()


@pytest.fixture
def postgres_engine(database_url: str) -> Iterator[Engine]:
    """An engine of its own with one pooled connection, so each checkout reuses it."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("pooled connections are pinged on PostgreSQL")
    engine = create_db_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def _count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[DBAPIConnection]:
    pings: list[DBAPIConnection] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: DBAPIConnection) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_that_answered_a_moment_ago_is_handed_out_without_a_ping(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ping is a round trip; under load every connection has just answered."""
    first = _backend(postgres_engine)
    pings = _count_pings(postgres_engine, monkeypatch)
    assert [_backend(postgres_engine) for _ in range(3)] == [first] * 3
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if idle for a while
    assert _backend(postgres_engine) == first
    assert len(pings) == 1


def test_a_connection_dropped_while_idle_is_replaced_before_anyone_uses_it(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart or an administrator drops pooled connections: the first request after
    that must not be the one to find out."""
    dropped = _backend(postgres_engine)
    admin = create_db_engine(postgres_engine.url.render_as_string(hide_password=False))
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    finally:
        admin.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    replacement = _backend(postgres_engine)
    assert replacement != dropped


def test_a_connection_dropped_right_after_it_answered_costs_one_503_then_the_pool_recovers(
    client: TestClient, database: Database, member: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the ping window a dropped connection is handed out as it is: the request
    that draws it says to try again, and the pool replaces every connection it had."""
    if database.is_sqlite:
        pytest.skip("pooled connections are pinged on PostgreSQL")
    feed = "/v1/me/sessions"
    assert client.get(feed, headers=member.headers).status_code == 200
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)  # every connection is recent
    admin = create_db_engine(database.engine.url.render_as_string(hide_password=False))
    try:
        with admin.connect() as connection:
            dropped = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    assert dropped > 0

    refused = client.get(feed, headers=member.headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "2"
    assert client.get(feed, headers=member.headers).status_code == 200
