"""Probes: /healthz says the process is up, /readyz that the database is usable."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.db import Database
from app.core.migrations import head_revision


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_migration_head(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "revision": head_revision(),
        "redis": "not configured",
    }


def test_readyz_is_503_when_migrations_are_behind(client: TestClient, database: Database) -> None:
    with database.engine.begin() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        response = client.get("/readyz")
    finally:
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "old" in response.json()["detail"]
