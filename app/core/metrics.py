"""Prometheus metrics: request counts and latencies by route template.

Labels are bounded: the route is the matched route's template
(`/v1/programs/{slug}`), never the raw path, and anything that matched no
route is counted as `<unmatched>`; unknown methods are counted as `OTHER`.
Each app has its own registry, so several apps in one process (the tests)
never collide.

With several uvicorn workers each process keeps its own numbers and a scrape
sees one of them: run one worker per container, or scrape each process.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from starlette.types import Scope

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Catalogue reads answer in well under a millisecond; writes and sign-ins take longer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# The `*_created` timestamp series double the output and nothing here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/v1/programs/{slug}`), or `<unmatched>`."""
    template = getattr(scope.get("route"), "path_format", None)
    if isinstance(template, str):
        return template
    if "endpoint" in scope:
        # A mounted app answered (the docs' static files): its mount point, not the file.
        return f"{scope.get('root_path', '')}/{{path}}"
    return UNMATCHED


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self._durations = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # labels() parses and checks its arguments on every call: keep the children instead.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, template: str, status: int, seconds: float) -> None:
        if method not in KNOWN_METHODS:
            method = "OTHER"
        key = (method, template, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(method, template, str(status)),
                self._durations.labels(method, template),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def install_metrics_route(app: FastAPI, metrics: HttpMetrics) -> None:
    """`GET /metrics` in the Prometheus text format, left out of the OpenAPI document."""

    @app.get(METRICS_PATH, include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
