"""CORS: off unless origins are listed; then only those origins get the headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app

APP_ORIGIN = "https://app.example.com"
FOREIGN_ORIGIN = "https://evil.example.net"


@pytest.fixture
def cors_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"cors_origins": [APP_ORIGIN]})
    with TestClient(create_app(configured, database=database)) as test_client:
        yield test_client


def _preflight(client: TestClient, origin: str) -> dict[str, str]:
    response = client.options(
        "/v1/me",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )
    return dict(response.headers)


def test_no_cors_headers_by_default(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": APP_ORIGIN})
    assert not any(name.startswith("access-control-") for name in response.headers)
    preflight = _preflight(client, APP_ORIGIN)
    assert "access-control-allow-origin" not in preflight


def test_an_allowed_origin_passes_the_preflight(cors_client: TestClient) -> None:
    headers = _preflight(cors_client, APP_ORIGIN)
    assert headers["access-control-allow-origin"] == APP_ORIGIN
    assert "PATCH" in headers["access-control-allow-methods"]
    allowed = headers["access-control-allow-headers"].lower()
    for name in ("authorization", "content-type", "if-match", "if-none-match", "x-request-id"):
        assert name in allowed
    assert "access-control-allow-credentials" not in headers


def test_an_allowed_origin_can_read_the_response_headers_it_needs(cors_client: TestClient) -> None:
    response = cors_client.get("/healthz", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    for name in ("etag", "location", "retry-after", "x-request-id"):
        assert name in exposed
    assert "origin" in response.headers["vary"].lower()


def test_a_foreign_origin_gets_no_cors_headers(cors_client: TestClient) -> None:
    response = cors_client.get("/healthz", headers={"Origin": FOREIGN_ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in _preflight(cors_client, FOREIGN_ORIGIN)


def test_origins_are_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com, http://localhost:3000/")
    assert Settings().cors_origins == ["https://app.example.com", "http://localhost:3000"]


@pytest.mark.parametrize("bad", ["*", "app.example.com", "https://app.example.com/path"])
def test_wildcards_and_non_origins_are_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("CORS_ORIGINS", bad)
    with pytest.raises(ValidationError):
        Settings()
