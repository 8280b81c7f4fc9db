"""Test fixtures: a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL),
cleaned before every test, and an app wired to it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.catalog.schemas import ContentBundle
from app.catalog.seed import read_content_dir
from app.catalog.service import ContentReport, apply_content
from app.core.config import PROJECT_ROOT, Environment, Settings
from app.core.db import Database, create_db_engine
from app.core.migrations import upgrade_to_head
from app.main import create_app
from app.models import metadata

TEST_SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return Settings(database_url=url).resolved_database_url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=database_url,
        data_dir=data_dir,
        media_dir=data_dir / "media",
        secret_key=TEST_SECRET,
        seed_dir=PROJECT_ROOT / "seed",
        content_poll_seconds=0,
    )


def _reset_schema(url: str) -> None:
    """Start every run from an empty database, then migrate it the way production does."""
    engine = create_db_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    _reset_schema(settings.resolved_database_url)
    upgrade_to_head(settings)
    db = Database.from_settings(settings)
    yield db
    db.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> None:
    """Empty every table before a test that touches the database."""
    if "database" not in request.fixturenames:
        return
    db: Database = request.getfixturevalue("database")
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            joined = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 (our table names)


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def seed_bundle(settings: Settings) -> ContentBundle:
    return read_content_dir(settings.seed_dir)


@pytest.fixture
def seeded(database: Database, seed_bundle: ContentBundle) -> ContentReport:
    """The authored content, loaded as `rehab seed` loads it."""
    with database.write_session() as session:
        return apply_content(session, seed_bundle)
