"""ETags and `If-None-Match` for every GET, as pure ASGI middleware.

Routes that know their version (the catalogue: content version + viewer
state) set an ETag themselves and skip rendering on a match. For the rest,
this middleware hashes the body of a successful GET. Either way a matching
`If-None-Match` gets 304 with no body.
"""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PreconditionFailedError, PreconditionRequiredError

# A person's own data: kept by their client, checked with the server before each use.
PRIVATE = "private, no-cache"
MAX_HASHED_BODY = 1 << 20  # larger bodies (files) keep their own validators


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2), as If-None-Match uses."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def check_if_match(if_match: str | None, current: str, *, what: str = "document") -> None:
    """A write must name the version it was made from: missing 428, stale 412.

    If-Match compares strongly (RFC 9110 13.1.1): `current` is a strong ETag, and
    `*` matches whatever exists.
    """
    if if_match is None or not if_match.strip():
        raise PreconditionRequiredError(
            f"Send If-Match with the ETag of the {what} you read, so concurrent edits "
            "are never overwritten silently."
        )
    offered = [tag.strip() for tag in if_match.split(",")]
    if "*" not in offered and current not in offered:
        raise PreconditionFailedError(
            f"The {what} changed since you read it: fetch it again, re-apply your edit, "
            "and send the new ETag.",
            extra={"current_etag": current},
        )


def body_etag(body: bytes) -> str:
    return f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


class ETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(send, Headers(scope=scope).get("if-none-match"))
        await self.app(scope, receive, exchange.send)


class _Exchange:
    """One response on its way out: passed through, buffered to hash, or cut to a 304."""

    def __init__(self, send: Send, if_none_match: str | None) -> None:
        self._send = send
        self._if_none_match = if_none_match
        self._state = "start"  # -> "pass" | "buffer" | "done"
        self._start: Message = {}
        self._chunks: list[bytes] = []
        self._size = 0

    async def send(self, message: Message) -> None:
        if self._state == "pass":
            await self._send(message)
        elif self._state == "start":
            await self._on_start(message)
        elif self._state == "buffer":
            await self._on_body(message)
        # "done": a 304 went out; the body is dropped.

    async def _on_start(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        etag = headers.get("etag")
        if message["status"] != 200:
            self._state = "pass"
            await self._send(message)
        elif etag is not None and etag_matches(self._if_none_match, etag):
            self._state = "done"
            await _send_not_modified(self._send, headers)
        elif etag is not None:
            self._state = "pass"
            await self._send(message)
        else:
            self._state = "buffer"
            self._start = message

    async def _on_body(self, message: Message) -> None:
        chunk = message.get("body", b"")
        self._chunks.append(chunk)
        self._size += len(chunk)
        if self._size > MAX_HASHED_BODY:
            self._state = "pass"
            await self._send(self._start)
            await self._send({**message, "body": b"".join(self._chunks)})
            return
        if message.get("more_body", False):
            return
        body = b"".join(self._chunks)
        headers = MutableHeaders(scope=self._start)
        headers["ETag"] = body_etag(body)
        self._state = "done"
        if etag_matches(self._if_none_match, headers["ETag"]):
            await _send_not_modified(self._send, headers)
            return
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": body})


async def _send_not_modified(send: Send, headers: MutableHeaders) -> None:
    kept = [
        (name.encode(), value.encode())
        for name, value in headers.items()
        if name in ("etag", "cache-control", "vary", "expires", "content-location")
    ]
    await send({"type": "http.response.start", "status": 304, "headers": kept})
    await send({"type": "http.response.body", "body": b""})
