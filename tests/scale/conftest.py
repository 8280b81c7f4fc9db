"""Fixtures for running several instances at once: fresh PostgreSQL databases of their own."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from app.core.config import Settings

FreshDatabase = Callable[[str], str]


def _base(url: str) -> URL:
    return make_url(Settings(database_url=url).resolved_database_url)


def _admin(url: str, statements: list[str]) -> None:
    engine = create_engine(_base(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def create_database(url: str, suffix: str) -> str:
    """An empty database named after `url`'s with `suffix`; its URL."""
    base = _base(url)
    name = f"{base.database}_{suffix}"
    _admin(url, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'])
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, suffix: str) -> None:
    _admin(url, [f'DROP DATABASE IF EXISTS "{_base(url).database}_{suffix}" WITH (FORCE)'])


def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgres", "postgresql")):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    return url


@pytest.fixture
def fresh_postgres() -> Iterator[FreshDatabase]:
    """Make empty PostgreSQL databases beside TEST_DATABASE_URL's; dropped afterwards."""
    url = postgres_url()
    made: list[str] = []

    def make(suffix: str) -> str:
        made.append(suffix)
        return create_database(url, suffix)

    yield make
    for suffix in made:
        drop_database(url, suffix)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """These start instances and drop PostgreSQL connections on purpose, so they run alone,
    in `make scale-check` (which sets SCALE_CHECK), never beside the rest of the suite."""
    if os.environ.get("SCALE_CHECK"):
        return
    here = os.path.dirname(__file__)
    alone = pytest.mark.skip(reason="runs alone, in make scale-check")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(alone)
