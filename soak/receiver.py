"""A local webhook receiver: answers 204 and counts what arrives.

The API delivers to it (WEBHOOK_ALLOW_PRIVATE_TARGETS=true), so the delivery
worker's reads and updates of the outbox compete with the soak's writes as
they would in production.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.note(self.headers.get("Webhook-Id") or "")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the soak prints its own figures."""


class WebhookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self.posts = 0
        self.event_ids: set[str] = set()
        self._thread = threading.Thread(target=self.serve_forever, name="webhooks", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/soak"

    def note(self, event_id: str) -> None:
        with self._lock:
            self.posts += 1
            self.event_ids.add(event_id)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.shutdown()
        self.server_close()
