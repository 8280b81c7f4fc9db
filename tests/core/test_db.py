"""Storage behaviour that concurrent writers rely on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlmodel import select

from app.catalog.models import ContentVersion
from app.catalog.service import bump_content_version, read_content_version
from app.core.db import Database


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
