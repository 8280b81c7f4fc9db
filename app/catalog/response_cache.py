"""Repeat anonymous catalogue reads answered from memory, before routing.

An anonymous catalogue response depends only on its URL and the content
version, and most traffic is exactly that. The routes render such a body once
per version; this pure ASGI layer keeps the whole response (status, headers,
body) and answers the next identical request itself, skipping routing,
parameter validation and dependency resolution, which are most of what such a
request would otherwise cost.

Only what a route already answered with 200 and an anonymous ETag of the
current version is replayed, so validation, errors, and every signed-in
request still go through the application.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.catalog.deps import SNAPSHOT_KEY
from app.core.http_cache import etag_matches

CATALOGUE_PATHS = ("/v1/conditions", "/v1/programs", "/v1/exercises")
ENTRY_LIMIT = 4096
NOT_MODIFIED_HEADERS = (b"etag", b"cache-control", b"vary")


@dataclass(frozen=True, slots=True)
class CachedResponse:
    version: int
    etag: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any  # the matched route, so outer layers still see which one answered


def anonymous_etag_version(etag: str) -> int | None:
    """The content version in an anonymous catalogue ETag (`W/"c12-anon"`), else None."""
    if not (etag.startswith('W/"c') and etag.endswith('-anon"')):
        return None
    number = etag[4:-6]
    return int(number) if number.isdigit() else None


class AnonymousResponseCache:
    def __init__(self, app: ASGIApp, *, limit: int = ENTRY_LIMIT) -> None:
        self.app = app
        self._limit = limit
        self._version = -1
        self._entries: dict[tuple[str, bytes], CachedResponse] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(CATALOGUE_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        if_none_match: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                await self.app(scope, receive, send)  # personalised: the routes decide
                return
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")

        snapshot = await scope["app"].state.catalog.current()
        if snapshot.version != self._version:
            self._entries.clear()  # an older version's responses can never be served again
            self._version = snapshot.version
        key = (scope["path"], scope["query_string"])
        cached = self._entries.get(key)
        if cached is not None:
            await self._replay(cached, scope, send, if_none_match)
            return
        # The route serves from the same snapshot, so its body matches the version kept.
        scope.setdefault("state", {})[SNAPSHOT_KEY] = snapshot
        recorder = _Recorder(send)
        await self.app(scope, receive, recorder.send)
        self._keep(key, recorder.response(scope))

    async def _replay(
        self, cached: CachedResponse, scope: Scope, send: Send, if_none_match: str | None
    ) -> None:
        scope["route"] = cached.route
        if if_none_match is not None and etag_matches(if_none_match, cached.etag):
            kept = [(n, v) for n, v in cached.headers if n in NOT_MODIFIED_HEADERS]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        # A copy: outer layers may add headers (request id, ...) to the message in place.
        headers = list(cached.headers)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})

    def _keep(self, key: tuple[str, bytes], response: CachedResponse | None) -> None:
        if response is None or response.version != self._version:
            return
        if len(self._entries) >= self._limit:
            self._entries.clear()  # many distinct URLs: start again rather than grow
        self._entries[key] = response


class _Recorder:
    """Passes a response through while keeping a copy of a complete anonymous 200."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunks: list[bytes] = []
        self._complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._status = message["status"]
            self._headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self._chunks.append(message.get("body", b""))
            self._complete = not message.get("more_body", False)
        await self._send(message)

    def response(self, scope: Scope) -> CachedResponse | None:
        if self._status != 200 or not self._complete:
            return None
        etag = next((v.decode("latin-1") for n, v in self._headers if n == b"etag"), None)
        version = anonymous_etag_version(etag) if etag else None
        if etag is None or version is None:
            return None
        return CachedResponse(
            version=version,
            etag=etag,
            headers=self._headers,
            body=b"".join(self._chunks),
            route=scope.get("route"),
        )
