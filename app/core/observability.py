"""One pure ASGI layer for what operators need on every request.

It gives the request its id (echoed as `X-Request-ID` and kept in a context
variable for the logs), adds the security headers, counts the request in the
Prometheus metrics and writes one access-log line. It wraps the whole
application, outside Starlette's server-error layer, so a 500 carries the
same id and headers and is counted like any other response.

Everything it adds is prepared once: the header lists, the metric children
per (method, route, status) and the logger. A request costs a header scan,
a few list operations and, with the access log on, one log record.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.logs import ACCESS_LOGGER, SCRUBBED, configure_logging
from app.core.metrics import HttpMetrics, install_metrics_route, route_template
from app.core.request_id import REQUEST_ID_HEADER, request_id_from_headers, request_id_var
from app.core.security_headers import SecurityHeaders

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
)
CORS_EXPOSED_HEADERS = ("ETag", "Location", "Retry-After", "X-Request-ID")

access_logger = logging.getLogger(ACCESS_LOGGER)


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        security_headers: SecurityHeaders,
        metrics: HttpMetrics | None,
        access_log: bool,
    ) -> None:
        self.app = app
        self._security_headers = security_headers
        self._metrics = metrics
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from_headers(scope["headers"])
        added = [
            (REQUEST_ID_HEADER, request_id.encode()),
            *self._security_headers.for_path(scope["path"]),
        ]
        status = 500  # what the server answers if the app fails before responding

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: an inner layer may keep the one it sent (a response cache).
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            template = route_template(scope)
            if self._metrics is not None:
                self._metrics.observe(scope["method"], template, status, seconds)
            if self._access_log and access_logger.isEnabledFor(logging.INFO):
                _log_access(scope, template, status, seconds, request_id)
            request_id_var.reset(token)


def _log_access(scope: Scope, template: str, status: int, seconds: float, request_id: str) -> None:
    milliseconds = round(seconds * 1000, 2)
    client = scope.get("client")
    fields = {
        "method": scope["method"],
        "route": template,
        "status": status,
        "duration_ms": milliseconds,
        "client_addr": client[0] if client else None,
        "request_id": request_id,
        # Only the route template and values the server chose: nothing here can hold a secret.
        SCRUBBED: True,
    }
    record = access_logger.makeRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        0,
        "%s %s %s %sms",
        (scope["method"], template, status, milliseconds),
        None,
        extra=fields,
    )
    access_logger.handle(record)


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Logging, metrics, security headers and CORS for `app`, from its settings."""
    configure_logging(settings)
    metrics = HttpMetrics() if settings.metrics_enabled else None
    if metrics is not None:
        install_metrics_route(app, metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,  # bearer tokens, never cookies
            max_age=600,
        )
    security_headers = SecurityHeaders(hsts_seconds=settings.hsts_seconds)
    build_stack = app.build_middleware_stack

    def build_observed_stack() -> ASGIApp:
        # Outermost, around Starlette's server-error layer: see the module docstring.
        return ObservabilityMiddleware(
            build_stack(),
            security_headers=security_headers,
            metrics=metrics,
            access_log=settings.access_log,
        )

    app.build_middleware_stack = build_observed_stack  # type: ignore[method-assign]
