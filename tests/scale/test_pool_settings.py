"""Connections per process are settings, so many instances fit the server's max_connections."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import QueuePool, text

from app.core.config import Settings
from app.core.db import Database


def test_pool_size_and_overflow_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "2")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT_SECONDS", "4")
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'pool.db'}"
    database = Database.from_settings(Settings(database_url=url, data_dir=tmp_path))
    try:
        pool = database.engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.size() == 3
        assert pool._max_overflow == 2
        assert pool._timeout == 4
    finally:
        database.dispose()


def test_prepared_statements_can_be_turned_off_for_pgbouncer(tmp_path: Path) -> None:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    settings = Settings(database_url=url, data_dir=tmp_path, database_prepared_statements=False)
    database = Database.from_settings(settings)
    try:
        with database.engine.connect() as connection:
            for _ in range(10):  # past psycopg's threshold of 5 runs
                connection.execute(text("SELECT 1"))
            assert connection.connection.driver_connection.prepare_threshold is None  # type: ignore[union-attr]
    finally:
        database.dispose()
