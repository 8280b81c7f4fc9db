"""The exception handlers: every error, the framework's and unexpected ones included,
answered as an RFC 9457 problem (`app.core.errors` holds the models and classes)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import (
    MALFORMED_BODY,
    InvalidInputError,
    PreconditionRequiredError,
    ProblemError,
    problem_response,
)
from app.core.logs import SparseWarnings
from app.core.pointers import locate
from app.core.problems import problem_uri

logger = logging.getLogger("app.errors")


def _field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    return [
        {**locate(tuple(err["loc"])), "detail": err["msg"], "type": err["type"]} for err in errors
    ]


async def _handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        detail=exc.detail,
        instance=request.url.path,
        type_=exc.type,
        headers=exc.headers,
        extra=exc.extra,
    )


# FastAPI answers a body it cannot parse with this detail; the cause says why.
_UNPARSABLE_BODY = "There was an error parsing the body"
# Problems the framework raises without a type of their own.
_TYPE_OF_STATUS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def _unparsable_body_detail(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "The request body is not valid UTF-8."
    if isinstance(cause, RecursionError):
        return "The JSON body is nested too deeply."
    if isinstance(cause, ValueError):
        # e.g. an integer with more digits than Python converts (4,300).
        return f"The JSON body could not be read: {cause}"
    return "The request body could not be read."


async def _handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    status = exc.status_code
    type_: str = getattr(exc, "problem_type", None) or (
        problem_uri(_TYPE_OF_STATUS[status]) if status in _TYPE_OF_STATUS else "about:blank"
    )
    if detail == HTTPStatus(status).phrase:
        detail = None
    elif status == 400 and detail == _UNPARSABLE_BODY:
        detail, type_ = _unparsable_body_detail(exc.__cause__), MALFORMED_BODY
    headers = dict(exc.headers) if exc.headers else None
    allowed = _allowed_methods(request) if status == 405 else None
    if allowed:
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    if detail is None and status == 404:
        detail = f"No route matches {request.method} {request.url.path}."
    elif detail is None and status == 405:
        takes = f"; it takes {', '.join(allowed)}" if allowed else ""
        detail = f"{request.url.path} does not take {request.method}{takes}."
    return problem_response(
        status, detail=detail, instance=request.url.path, type_=type_, headers=headers
    )


_TEMPLATE_PARAM = re.compile(r"\{[^}/]+\}")


def _allowed_methods(request: Request) -> list[str] | None:
    """The methods of this path, as the OpenAPI document lists them.

    Each method of a path is its own route, so the router's own 405 names only the
    first route that matched. A literal path (`/sessions/sync`) also fits a template
    (`/sessions/{session_id}`); the most specific documented path wins.
    """
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    fitting = [
        (len(_TEMPLATE_PARAM.findall(template)), template)
        for template in paths
        if _template_regex(template).fullmatch(request.url.path)
    ]
    if not fitting:
        return None
    _, template = min(fitting)
    return [method.upper() for method in paths[template] if method.upper() in _METHODS]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _template_regex(template: str) -> re.Pattern[str]:
    literals = _TEMPLATE_PARAM.split(template)
    return re.compile("[^/]+".join(re.escape(part) for part in literals))


def _where_json_broke(request: Request, position: int) -> str:
    """`line L, column C` of `position` in the body the route read, else the character."""
    body = getattr(request, "_body", None)  # Starlette keeps the body it read on the request
    if isinstance(body, bytes) and 0 <= position <= len(body):
        before = body[:position].decode("utf-8", "replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return f"line {line}, column {column} (character {position})"
    return f"character {position}"


async def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    broken = next((err for err in exc.errors() if err["type"] == "json_invalid"), None)
    if broken is not None:
        # Not JSON at all: nothing in it can be validated, so it is a bad request (400).
        position = broken["loc"][-1] if isinstance(broken["loc"][-1], int) else 0
        reason = (broken.get("ctx") or {}).get("error", "invalid JSON")
        return problem_response(
            400,
            detail=f"The request body is not valid JSON: {reason} at "
            f"{_where_json_broke(request, position)}.",
            instance=request.url.path,
            type_=MALFORMED_BODY,
            extra={"position": position},
        )
    if exc.errors() and all(_missing_if_match(err) for err in exc.errors()):
        # The schema marks If-Match required; leaving it out is the 428 RFC 6585 names.
        return await _handle_problem(
            request,
            PreconditionRequiredError(
                "Send If-Match with the ETag you read, so concurrent edits are never "
                "overwritten silently."
            ),
        )
    errors = _field_errors(exc.errors())
    return problem_response(
        422,
        detail=f"The request has {len(errors)} invalid value(s); see `errors`.",
        instance=request.url.path,
        type_=InvalidInputError.type,
        extra={"errors": errors},
    )


def _missing_if_match(error: Any) -> bool:
    loc = tuple(error["loc"])
    # An empty header says no more than a missing one.
    return (
        error["type"] in ("missing", "string_too_short")
        and len(loc) == 2
        and loc[0] == "header"
        and str(loc[1]).lower() == "if-match"
    )


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    # Log the traceback for operators; never send it to the caller.
    logger.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        detail="An unexpected error occurred. It has been logged.",
        instance=request.url.path,
        type_=problem_uri("internal-error"),
    )


# A PostgreSQL restart or failover takes a few seconds; the pool reconnects on the next try.
DATABASE_RETRY_SECONDS = 2
# Server answers that mean "no connection now": terminated by an administrator (a fast
# shutdown), crashed, or starting up / shutting down. Class 08 is the connection itself.
_CONNECTION_LOST = frozenset({"57P01", "57P02", "57P03"})
# An outage must not flood the log: a line in 10 s.
_database_warnings = SparseWarnings(logger, every_seconds=10)


def _database_unreachable(exc: OperationalError | InterfaceError) -> bool:
    """Whether the database could not be reached or dropped the connection, as opposed to
    refusing this one statement (a statement timeout, a deadlock), which stays a 500."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if not isinstance(orig, psycopg.Error):
        return False  # SQLite's are about the file (locked, read-only), not a server
    # No SQLSTATE: refused or broken before the server could answer.
    return (
        orig.sqlstate is None or orig.sqlstate.startswith("08") or orig.sqlstate in _CONNECTION_LOST
    )


async def _handle_database_unavailable(request: Request, exc: Exception) -> Response:
    # The database refused, dropped or could not take the connection (restarting, failing
    # over, unreachable): not a bug to log with a traceback but a moment to wait out, so a
    # 503 that says when to try again rather than a 500 that says something broke.
    assert isinstance(exc, OperationalError | InterfaceError)
    if not _database_unreachable(exc):
        raise exc  # the unexpected-error handler answers, and logs the traceback
    _database_warnings.warn(
        "unavailable",
        "The database is unavailable (%s on %s %s)",
        type(exc).__name__,
        request.method,
        request.url.path,
    )
    return problem_response(
        503,
        detail="The database is unavailable for a moment (it may be restarting); "
        f"try again in {DATABASE_RETRY_SECONDS} seconds.",
        instance=request.url.path,
        type_=problem_uri("not-ready"),
        headers={"Retry-After": str(DATABASE_RETRY_SECONDS)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(OperationalError, _handle_database_unavailable)
    app.add_exception_handler(InterfaceError, _handle_database_unavailable)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(Exception, _handle_unexpected)
