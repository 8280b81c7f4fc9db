"""Security headers on every response; a working policy for the interactive docs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.core.security_headers import API_POLICY
from app.main import create_app

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def client_with(settings: Settings, database: Database) -> Iterator[ClientFactory]:
    clients: list[TestClient] = []

    def make(**changes: object) -> TestClient:
        app = create_app(settings.model_copy(update=changes), database=database)
        test_client = TestClient(app)
        clients.append(test_client.__enter__())
        return test_client

    yield make
    for test_client in clients:
        test_client.__exit__(None, None, None)


@pytest.mark.parametrize("path", ["/healthz", "/v1/nothing-here", "/v1/me", "/openapi.json"])
def test_api_responses_forbid_sniffing_framing_and_referrers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == API_POLICY
    assert headers["cross-origin-resource-policy"] == "same-origin"


def test_no_hsts_unless_the_deployment_says_it_is_https(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/healthz").headers


def test_hsts_when_configured(client_with: ClientFactory) -> None:
    headers = client_with(hsts_seconds=31_536_000).get("/healthz").headers
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def _sources(policy: str, directive: str) -> list[str]:
    for part in policy.split(";"):
        name, *values = part.split()
        if name == directive:
            return values
    return []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_policy_allows_what_the_page_loads_and_nothing_foreign(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    policy = response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    # Every script and stylesheet the page names is same-origin, which 'self' allows ...
    for asset in re.findall(r"""(?:src|href)=["']?([^"' >]+)""", response.text):
        assert asset.startswith("/"), asset
    assert "'self'" in _sources(policy, "script-src")
    assert "'self'" in _sources(policy, "style-src")
    # ... the inline start-up script runs, the document is fetched, and nothing else is.
    assert "'unsafe-inline'" in _sources(policy, "script-src")
    assert _sources(policy, "connect-src") == ["'self'"]
    assert _sources(policy, "default-src") == ["'none'"]
    assert _sources(policy, "frame-ancestors") == ["'none'"]


def test_docs_assets_keep_the_strict_policy(client: TestClient) -> None:
    response = client.get("/docs-static/swagger-ui.css")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == API_POLICY


def test_media_may_be_embedded_by_other_origins(client: TestClient) -> None:
    headers = client.get("/media/thumbnails/nothing.jpg").headers
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    assert headers["x-content-type-options"] == "nosniff"


def test_a_304_keeps_the_security_headers(client: TestClient) -> None:
    etag = client.get("/healthz").headers["etag"]
    response = client.get("/healthz", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "x-request-id" in response.headers


def test_headers_are_not_repeated(client: TestClient) -> None:
    raw = client.get("/healthz").headers.raw
    names = [name.lower() for name, _ in raw]
    assert len(names) == len(set(names))
