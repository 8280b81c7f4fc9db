"""A fresh database for every run, and the environment the `rehab` commands and server get.

Numbers are only comparable between runs when each starts from the same data,
so the SQLite file is deleted and a PostgreSQL schema is dropped and recreated.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.core.db import Database, create_db_engine
from bench.config import BenchConfig


def reset_database(config: BenchConfig) -> None:
    """Leave an empty database at `config.database_url`: no tables, no migration stamp."""
    config.var_dir.mkdir(parents=True, exist_ok=True)
    if config.kind == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            config.sqlite_file.with_name(config.sqlite_file.name + suffix).unlink(missing_ok=True)
        return
    engine = create_db_engine(config.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@contextmanager
def open_database(config: BenchConfig) -> Iterator[Database]:
    """The app's own database layer (same pragmas and transactions), closed afterwards."""
    database = Database(create_db_engine(config.database_url))
    try:
        yield database
    finally:
        database.dispose()


def server_version(config: BenchConfig) -> str:
    """The database engine's version, for the report header."""
    with open_database(config) as database, database.engine.connect() as connection:
        if config.kind == "sqlite":
            return f"SQLite {connection.execute(text('SELECT sqlite_version()')).scalar()}"
        return f"PostgreSQL {connection.execute(text('SHOW server_version')).scalar()}"


def command_env(config: BenchConfig, **extra: str) -> dict[str, str]:
    """The environment for `rehab` commands and servers: this run's database, nothing else.

    REDIS_URL is dropped so rate-limit counters stay in process memory, and
    SQL_ECHO so a developer's debugging setting cannot slow the run down; the
    per-request access log is off, as in the production-like serving measured.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SQL_ECHO"}}
    env["DATABASE_URL"] = config.database_url
    env["DATA_DIR"] = str(config.var_dir)
    env["MEDIA_DIR"] = str(config.var_dir / "media")
    # uvicorn runs with --no-access-log; the app's own access log is its equivalent.
    env["ACCESS_LOG"] = "false"
    env.update(extra)
    return env
