"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is tuned as measured in the engineering notes: WAL so readers never
wait for the writer, a busy timeout so writers queue instead of failing, and
write transactions that begin IMMEDIATE: a deferred transaction that reads and
then writes gets SQLITE_BUSY at once, whatever the timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session, create_engine

from app.core.config import Settings
from app.core.errors import ProblemError

_BEGIN_MODE = "sqlite_begin_mode"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=5000",
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
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """One engine per process, and the two kinds of session it hands out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # On SQLite a writing session takes the write lock when it begins; on
        # PostgreSQL the option is ignored and row locks do the work.
        self._write_engine = engine.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})

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

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only: closing it rolls back, so nothing it does is kept."""
        with Session(self.engine) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
