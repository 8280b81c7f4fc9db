"""Repeat catalogue reads answered from memory, before routing.

A catalogue response depends on its URL, the content version and, when signed
in, on where the viewer stands (the tag in its ETag: role, stage reached per
program, hints, clinics, link expiry). Most traffic repeats exactly that. This
pure ASGI layer keeps each whole response (status, headers, body) under URL and
tag, and answers the next identical request itself, skipping routing,
parameter validation and dependency resolution, which are most of what such a
request would otherwise cost.

A signed-in request is replayed only while its token's viewer is already in
the short-lived viewer cache, so a token is never accepted here that the
routes would not accept themselves; a stage change forgets the viewer, and the
next read goes through the routes again. Only what a route answered with 200
and a catalogue ETag of the current version is kept, so validation, errors and
404s always go through the application.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access.presenter import ANONYMOUS_TAG, viewer_tag
from app.catalog.deps import CATALOG, SNAPSHOT_KEY, VIEWERS
from app.core.deps import MEDIA_SIGNER
from app.core.http_cache import etag_matches
from app.identity.deps import bearer_token

CATALOGUE_PATHS = ("/v1/conditions", "/v1/programs", "/v1/exercises")
ENTRY_LIMIT = 4096
BYTE_LIMIT = 64 << 20  # bodies held at most; past it the memory starts again
NOT_MODIFIED_HEADERS = (b"etag", b"cache-control", b"vary")

CacheKey = tuple[str, bytes, str]  # path, query string, viewer tag


@dataclass(frozen=True, slots=True)
class CachedResponse:
    version: int
    tag: str
    etag: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any  # the matched route, so outer layers still see which one answered


def catalogue_etag_parts(etag: str) -> tuple[int, str] | None:
    """The content version and viewer tag of a catalogue ETag (`W/"c12-anon"`), else None."""
    if not (etag.startswith('W/"c') and etag.endswith('"')):
        return None
    number, dash, tag = etag[4:-1].partition("-")
    if not (dash and number.isdigit() and tag):
        return None
    return int(number), tag


class CatalogResponseCache:
    def __init__(
        self, app: ASGIApp, *, entry_limit: int = ENTRY_LIMIT, byte_limit: int = BYTE_LIMIT
    ) -> None:
        self.app = app
        self._entry_limit = entry_limit
        self._byte_limit = byte_limit
        self._version = -1
        self._entries: dict[CacheKey, CachedResponse] = {}
        self._bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(CATALOGUE_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        authorization: str | None = None
        if_none_match: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")

        snapshot = await CATALOG.of_scope(scope).current()
        if snapshot.version != self._version:
            self._clear()  # an older version's responses can never be served again
            self._version = snapshot.version
        tag = self._known_tag(scope, authorization)
        if tag is not None:
            cached = self._entries.get((scope["path"], scope["query_string"], tag))
            if cached is not None:
                await self._replay(cached, scope, send, if_none_match)
                return
        # The route serves from the same snapshot, so its body matches the version kept.
        scope.setdefault("state", {})[SNAPSHOT_KEY] = snapshot
        recorder = _Recorder(send)
        await self.app(scope, receive, recorder.send)
        self._keep(scope, recorder.response(scope))

    @staticmethod
    def _known_tag(scope: Scope, authorization: str | None) -> str | None:
        """The viewer tag of this request, when it is known without asking the routes."""
        token = bearer_token(authorization)
        if token is None:
            return ANONYMOUS_TAG  # no bearer token: the routes answer anonymously too
        viewer = VIEWERS.of_scope(scope).remembered(token)
        if viewer is None:
            return None  # not checked lately: the routes check the token and load the viewer
        return viewer_tag(viewer, MEDIA_SIGNER.of_scope(scope).current_expiry())

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

    def _keep(self, scope: Scope, response: CachedResponse | None) -> None:
        if response is None or response.version != self._version:
            return
        if len(self._entries) >= self._entry_limit or self._bytes >= self._byte_limit:
            self._clear()  # many distinct URLs or viewers: start again rather than grow
        key = (scope["path"], scope["query_string"], response.tag)
        previous = self._entries.get(key)
        if previous is not None:
            self._bytes -= len(previous.body)
        self._entries[key] = response
        self._bytes += len(response.body)

    def _clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


class _Recorder:
    """Passes a response through while keeping a copy of a complete catalogue 200."""

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
        parts = catalogue_etag_parts(etag) if etag else None
        if etag is None or parts is None:
            return None
        version, tag = parts
        return CachedResponse(
            version=version,
            tag=tag,
            etag=etag,
            headers=self._headers,
            body=b"".join(self._chunks),
            route=scope.get("route"),
        )
