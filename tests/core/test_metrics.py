"""Prometheus metrics at /metrics: request counts and latencies by route template."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.authoring.report import ContentReport
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app

PROGRAM = "whole-leg-rehabilitation"


def samples(client: TestClient, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The scrape's samples called `name`, keyed by their sorted labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def count(client: TestClient, method: str, route: str, status: str) -> float:
    key = (("method", method), ("route", route), ("status", status))
    return samples(client, "http_requests_total").get(key, 0.0)


def test_requests_are_counted_by_route_template_not_raw_path(
    client: TestClient, seeded: ContentReport
) -> None:
    for _ in range(2):  # the second is answered by the anonymous response cache
        assert client.get(f"/v1/programs/{PROGRAM}").status_code == 200
    assert count(client, "GET", "/v1/programs/{slug}", "200") == 2
    assert PROGRAM not in client.get("/metrics").text


def test_latencies_are_a_histogram_by_route_template(
    client: TestClient, seeded: ContentReport
) -> None:
    client.get(f"/v1/programs/{PROGRAM}")
    counts = samples(client, "http_request_duration_seconds_count")
    assert counts[(("method", "GET"), ("route", "/v1/programs/{slug}"))] == 1
    buckets = samples(client, "http_request_duration_seconds_bucket")
    assert buckets[(("le", "+Inf"), ("method", "GET"), ("route", "/v1/programs/{slug}"))] == 1


def test_statuses_are_labelled(client: TestClient) -> None:
    client.get("/v1/me")
    client.delete("/healthz")
    assert count(client, "GET", "/v1/me", "401") == 1
    assert count(client, "DELETE", "/healthz", "405") == 1


def test_paths_that_match_no_route_share_one_label(client: TestClient) -> None:
    for path in ("/wp-admin", "/v1/nothing/1", "/v1/nothing/2"):
        client.get(path)
    assert count(client, "GET", "<unmatched>", "404") == 3
    assert "wp-admin" not in client.get("/metrics").text


def test_unknown_methods_share_one_label(client: TestClient) -> None:
    client.request("BREW", "/healthz")
    client.request("PROPFIND", "/healthz")
    assert count(client, "OTHER", "/healthz", "405") == 2


def test_static_docs_assets_are_labelled_by_their_mount(client: TestClient) -> None:
    client.get("/docs-static/swagger-ui.css")
    assert count(client, "GET", "/docs-static/{path}", "200") == 1


def test_metrics_are_not_in_the_api_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_process_metrics_are_exported(client: TestClient) -> None:
    assert "process_resident_memory_bytes" in client.get("/metrics").text


@pytest.fixture
def client_without_metrics(settings: Settings, database: Database) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"metrics_enabled": False})
    with TestClient(create_app(configured, database=database)) as test_client:
        yield test_client


def test_metrics_can_be_switched_off(client_without_metrics: TestClient) -> None:
    assert client_without_metrics.get("/metrics").status_code == 404
