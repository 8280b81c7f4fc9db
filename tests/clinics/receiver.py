"""A real, small HTTP receiver for webhook tests.

It listens on 127.0.0.1 on a free port in a background thread, records every
request it gets (path, headers, raw body), and answers each one with the next
status code of a configurable sequence (then with a default, 200 unless told).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]  # keys lower-cased
    body: bytes

    def header(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server in a thread; use it as a context manager (or the `receiver` fixture)."""

    def __init__(
        self,
        *statuses: int,
        default: int = 200,
        on_request: Callable[[Received], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._statuses: deque[int] = deque(statuses)
        self._default = default
        # Called in the handler thread before answering: a test may stall or count there.
        self.on_request = on_request
        self._received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration ---------------------------------------------------------

    def respond(self, *statuses: int, then: int = 200) -> None:
        """Answer the next requests with `statuses`, in order, and every later one with `then`."""
        with self._lock:
            self._statuses = deque(statuses)
            self._default = then

    # -- what arrived ----------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def port(self) -> int:
        assert self._server is not None, "the receiver is not running"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _record(self, request: Received) -> int:
        with self._lock:
            self._received.append(request)
            status = self._statuses.popleft() if self._statuses else self._default
        if self.on_request is not None:
            self.on_request(request)
        return status

    # -- running ---------------------------------------------------------------

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = receiver._record(
                    Received(
                        method=self.command,
                        path=self.path,
                        headers={key.lower(): value for key, value in self.headers.items()},
                        body=body,
                    )
                )
                payload = b'{"ok": true}' if 200 <= status < 300 else b'{"ok": false}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle  # noqa: N815 (http.server's naming)
            do_PUT = _handle  # noqa: N815
            do_GET = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver answering 200 (change with `receiver.respond(...)`)."""
    with Receiver() as running:
        yield running
