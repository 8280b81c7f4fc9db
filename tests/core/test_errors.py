"""Every error is an RFC 9457 problem document."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import InterfaceError, OperationalError

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response_json: dict[str, object], status: int) -> None:
    assert response_json.keys() >= PROBLEM_KEYS
    assert response_json["status"] == status


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(response.json(), 404)
    assert response.json()["instance"] == "/v1/nothing-here"


def test_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/v1/exercises")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(response.json(), 405)


def test_validation_errors_list_every_bad_field(client: TestClient) -> None:
    response = client.get("/v1/exercises", params={"limit": "0", "offset": "-5"})
    assert response.status_code == 422
    problem = response.json()
    assert_problem(problem, 422)
    assert problem["type"] == "/problems/validation-error"
    where = sorted((error["in"], error["parameter"]) for error in problem["errors"])
    assert where == [("query", "limit"), ("query", "offset")]
    assert all(error["detail"] and error["type"] for error in problem["errors"])


@pytest.fixture
def crashing_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    app: FastAPI = create_app(settings, database=database)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail: password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_crash_is_a_500_problem_without_traceback(crashing_client: TestClient) -> None:
    response = crashing_client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(response.json(), 500)
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text


@pytest.fixture
def database_failing_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    app: FastAPI = create_app(settings, database=database)

    @app.get("/down")
    async def down() -> None:
        refused = psycopg.OperationalError("connection refused: is the server running?")
        raise OperationalError("SELECT 1", {}, refused)

    @app.get("/dropped")
    async def dropped() -> None:
        raise InterfaceError("SELECT 1", {}, psycopg.InterfaceError("the connection is closed"))

    @app.get("/shutting-down")
    async def shutting_down() -> None:
        refused = psycopg.errors.CannotConnectNow("the database system is shutting down")
        raise OperationalError("SELECT 1", {}, refused)

    @app.get("/timed-out")
    async def timed_out() -> None:
        cancelled = psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
        raise OperationalError("SELECT 1", {}, cancelled)

    @app.get("/locked")
    async def locked() -> None:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/down", "/dropped", "/shutting-down"])
def test_a_database_that_is_down_is_a_503_problem_with_retry_after(
    database_failing_client: TestClient, path: str
) -> None:
    """PostgreSQL restarting: the caller is told to try again shortly, not that we broke."""
    response = database_failing_client.get(path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    problem = response.json()
    assert_problem(problem, 503)
    assert problem["type"] == "/problems/not-ready"
    assert "refused" not in response.text
    assert "closed" not in response.text


@pytest.mark.parametrize("path", ["/timed-out", "/locked"])
def test_a_statement_the_database_refused_is_still_a_500(
    database_failing_client: TestClient, path: str
) -> None:
    """A statement timeout or a locked SQLite file is a fault to look into, not a restart."""
    response = database_failing_client.get(path)
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"
    assert "retry-after" not in response.headers
