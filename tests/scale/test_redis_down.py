"""Redis unreachable (a closed port) or hanging (a socket that accepts and never answers):
sign-in and registration still answer, within a bounded time, with limits counted in the
process; the failure is logged, and /readyz reports it."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app

PASSWORD = "a sturdy passphrase 42"
TIMEOUT_SECONDS = 0.5
# Every request's budget: one bounded Redis timeout at most, then counting in the process.
ANSWER_WITHIN_SECONDS = 4 * TIMEOUT_SECONDS + 1.0


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there any more


@pytest.fixture
def hanging_port() -> Iterator[str]:
    """A listening socket nobody reads: connections are accepted by the kernel, then silence."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


@pytest.fixture(params=["closed", "hanging"])
def broken_redis(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_port")
    return url


@pytest.fixture
def app_without_redis(
    settings: Settings, database: Database, broken_redis: str
) -> Iterator[TestClient]:
    broken = settings.model_copy(
        update={
            "redis_url": broken_redis,
            "redis_timeout_seconds": TIMEOUT_SECONDS,
            "change_relay": "auto",  # the relay tries Redis too, and must not get in the way
        }
    )
    with TestClient(create_app(broken, database=database)) as client:
        yield client


def timed(call: object) -> float:
    assert callable(call)
    start = time.monotonic()
    call()
    return time.monotonic() - start


def test_sign_up_and_sign_in_answer_when_redis_does_not(
    app_without_redis: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = app_without_redis
    email = f"{uuid.uuid4().hex}@example.com"
    with caplog.at_level(logging.WARNING, logger="app.ratelimit"):
        start = time.monotonic()
        registered = client.post(
            "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "A"}
        )
        assert time.monotonic() - start < ANSWER_WITHIN_SECONDS
    assert registered.status_code == 201, registered.text
    assert any("Redis does not answer" in record.getMessage() for record in caplog.records)

    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    start = time.monotonic()
    signed_in = client.post("/v1/auth/token", data=form)
    assert time.monotonic() - start < ANSWER_WITHIN_SECONDS
    assert signed_in.status_code == 200, signed_in.text


def test_limits_still_hold_in_the_process(app_without_redis: TestClient) -> None:
    form = {"grant_type": "password", "username": "nobody@example.com", "password": "wrong" * 3}
    statuses = [app_without_redis.post("/v1/auth/token", data=form).status_code for _ in range(6)]
    assert 429 not in statuses[:5]  # refused sign-ins (400), counted
    assert statuses[5] == 429


def test_readyz_reports_redis(app_without_redis: TestClient) -> None:
    start = time.monotonic()
    response = app_without_redis.get("/readyz")
    assert time.monotonic() - start < ANSWER_WITHIN_SECONDS
    assert response.status_code == 200
    assert response.json()["redis"] == "unavailable"
