"""No query per item: reading the catalogue costs the same number of statements at any size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.authoring.content import apply_content
from app.catalog.deps import CATALOG
from app.core.db import Database
from tests.factories import sized_catalogue


@contextmanager
def counting_statements(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]
        # Transaction control is not a query; what we count is work that could grow.
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def load(database: Database, size: int) -> None:
    with database.write_session() as session:
        apply_content(session, sized_catalogue(size))


def statements_for(client: TestClient, database: Database, path: str) -> int:
    """Statements one cold request runs (the snapshot is rebuilt for it)."""
    CATALOG.of_app(client.app).invalidate()
    with counting_statements(database) as statements:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return len(statements)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/conditions",
        "/v1/conditions/cond-1",
        "/v1/programs",
        "/v1/programs/prog-1",
        "/v1/exercises?limit=100",
        "/v1/exercises/ex-1",
    ],
)
def test_statement_count_does_not_grow_with_the_catalogue(
    client: TestClient, database: Database, path: str
) -> None:
    load(database, 3)
    small = statements_for(client, database, path)
    load(database, 30)
    large = statements_for(client, database, path)
    assert small == large
    assert large <= 10


def test_warm_reads_run_one_version_check_and_nothing_else(
    client: TestClient, database: Database
) -> None:
    load(database, 5)
    client.get("/v1/programs/prog-1")
    with counting_statements(database) as statements:
        assert client.get("/v1/programs/prog-2").status_code == 200
        assert client.get("/v1/exercises").status_code == 200
    # content_poll_seconds is 0 in tests: each request checks the version, nothing more.
    assert len([s for s in statements if "content_version" in s]) == len(statements) == 2
