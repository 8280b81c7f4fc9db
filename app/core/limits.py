"""A cap on request bodies, as pure ASGI middleware: 413 problem+json past it.

A declared `Content-Length` over the cap is refused before the app runs. A
body without one (chunked) is counted as the app reads it: the read that
crosses the cap raises `BodyTooLargeError`, which FastAPI lets through its
body parsing and the problem handlers render as 413. Requests that carry no
body (GET, HEAD, OPTIONS) pass straight through, so reads pay nothing.

Only the media upload routes (`upload_paths`) get the larger upload cap, for a
`multipart/form-data` body; they read it only after the caller was admitted, and
check each file against its own limit. Claiming multipart anywhere else buys
nothing: every other route has the ordinary cap.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import MALFORMED_BODY, error_responses, problem_response

BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PAYLOAD_TOO_LARGE = "/problems/payload-too-large"


def describe_size(size: int) -> str:
    """`5 MiB`, `256 KiB` or `900 bytes`: how a person would say the limit."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


class BodyTooLargeError(HTTPException):
    """The body grew past the cap while it was being read."""

    problem_type = PAYLOAD_TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=_too_large_detail(limit))


def _too_large_detail(limit: int) -> str:
    return f"The request body is larger than the {describe_size(limit)} this API accepts."


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        upload_paths: re.Pattern[str],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self._limit_for(scope["path"], headers.get("content-type", ""))
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(scope, receive, send, 400, "Content-Length is not a number.")
                return
            if int(declared) > limit:
                await _refuse(scope, receive, send, 413, _too_large_detail(limit))
                return
        await _CountedExchange(self.app, limit)(scope, receive, send)

    def _limit_for(self, path: str, content_type: str) -> int:
        multipart = content_type.lower().startswith("multipart/form-data")
        if multipart and self.upload_paths.fullmatch(path):
            return self.max_upload_bytes
        return self.max_body_bytes


class _CountedExchange:
    """One request whose body is counted as the app reads it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit
        self._received = 0
        self._response_started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self._received += len(message.get("body", b""))
                if self._received > self._limit:
                    raise BodyTooLargeError(self._limit)
            return message

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._response_started = True
            await send(message)

        try:
            await self._app(scope, counted_receive, tracked_send)
        except BodyTooLargeError as exc:
            # Read outside FastAPI's body parsing (so no handler saw it): answer here.
            if self._response_started:
                raise
            await _refuse(scope, receive, send, 413, str(exc.detail))


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    type_ = PAYLOAD_TOO_LARGE if status == 413 else MALFORMED_BODY
    # The rest of the body is not read: tell the client this connection is done.
    response = problem_response(
        status,
        detail=detail,
        instance=scope.get("path"),
        type_=type_,
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


BODY_PROBLEMS = {
    "400": "Unreadable body: not UTF-8, nested too deeply, or malformed",
    "413": "Request body too large",
}


def document_body_limits(openapi: dict[str, Any]) -> None:
    """Add the 400 and 413 answers to every operation that takes a request body."""
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in BODY_PROBLEMS.items():
                documented = error_responses(int(status))[int(status)]
                responses.setdefault(status, documented | {"description": description})
