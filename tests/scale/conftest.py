"""Fixtures for running several instances at once: fresh PostgreSQL databases of their own."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.config import Settings

FreshDatabase = Callable[[str], str]


@pytest.fixture
def fresh_postgres() -> Iterator[FreshDatabase]:
    """Make empty PostgreSQL databases beside TEST_DATABASE_URL's; dropped afterwards."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgres", "postgresql")):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    base = make_url(Settings(database_url=url).resolved_database_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make(suffix: str) -> str:
        name = f"{base.database}_{suffix}"
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
