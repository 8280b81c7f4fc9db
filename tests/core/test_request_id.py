"""Every response carries a request id: the caller's when it is sane, else a new one."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.core.request_id import MAX_LENGTH, accept_or_make, current_request_id
from app.main import create_app


@pytest.fixture
def failing_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    """The app with one route that crashes, answered as the server would (a 500)."""
    app = create_app(settings, database=database)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("something broke")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_request_without_an_id_gets_a_new_one_each_time(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert len(first) == 32
    assert first != second


def test_the_callers_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "mobile-7f3a:retry=2"})
    assert response.headers["x-request-id"] == "mobile-7f3a:retry=2"


@pytest.mark.parametrize(
    "unsafe",
    [
        "x" * (MAX_LENGTH + 1),
        "two words",
        'quote"d',
        "semi;colon",
        "",
    ],
)
def test_an_unsafe_caller_id_is_replaced(client: TestClient, unsafe: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": unsafe})
    assert response.headers["x-request-id"] != unsafe
    assert len(response.headers["x-request-id"]) == 32


def test_non_ascii_and_control_bytes_are_never_echoed() -> None:
    assert accept_or_make("café".encode()) != "café"
    assert len(accept_or_make(b"abc\x00def")) == 32
    assert accept_or_make(b"abc-DEF_123") == "abc-DEF_123"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/nothing-here", 404),
        ("DELETE", "/healthz", 405),
        ("GET", "/v1/exercises?limit=500", 422),
        ("GET", "/v1/me", 401),
    ],
)
def test_errors_carry_the_request_id(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path, headers={"X-Request-ID": "support-ticket-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "support-ticket-1"


def test_a_crash_answers_500_with_the_request_id(failing_client: TestClient) -> None:
    response = failing_client.get("/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"


def test_log_lines_written_while_serving_carry_the_request_id(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app")
    failing_client.get("/crash", headers={"X-Request-ID": "crash-2"})
    error = next(record for record in caplog.records if record.name == "app.errors")
    assert error.request_id == "crash-2"  # type: ignore[attr-defined]


def test_outside_a_request_there_is_no_request_id() -> None:
    assert current_request_id() is None
