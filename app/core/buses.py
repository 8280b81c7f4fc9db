"""The buses the change relay speaks: Redis pub/sub, or PostgreSQL LISTEN/NOTIFY.

Each `listen` calls `deliver("")` once it is subscribed, then `deliver(payload)` per
message, and returns when `stop` is set. Every wait is bounded, so a bus that hangs
is noticed and retried rather than waited on for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import redis
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.relay import CHANNEL, LISTEN_TICK_SECONDS, Bus

POSTGRES_TIMEOUT_SECONDS = 5.0  # connecting, and each NOTIFY


class RedisBus:
    name = "Redis"

    def __init__(self, url: str, *, timeout_seconds: float) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
        )

    def publish(self, payload: str) -> None:
        self._client.publish(CHANNEL, payload)

    def listen(self, deliver: Callable[[str], None], stop: threading.Event) -> None:
        # redis-py types pubsub() from 8.2 on; before, the call is untyped.
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]
        try:
            pubsub.subscribe(CHANNEL)
            deliver("")
            while not stop.is_set():
                message = pubsub.get_message(timeout=LISTEN_TICK_SECONDS)
                if message is not None and message.get("type") == "message":
                    data = message["data"]
                    deliver(data.decode() if isinstance(data, bytes) else str(data))
        finally:
            pubsub.close()

    def close(self) -> None:
        self._client.close()


class PostgresBus:
    """NOTIFY from one connection, LISTEN on another (it needs a server session of its
    own: behind PgBouncer in transaction mode, use Redis)."""

    name = "PostgreSQL"

    def __init__(self, url: str, *, timeout_seconds: float) -> None:
        self._conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._connect_timeout = max(1, round(timeout_seconds))
        self._statement_timeout_ms = max(100, int(timeout_seconds * 1000))
        self._sender: psycopg.Connection[tuple[object, ...]] | None = None
        self._lock = threading.Lock()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            options=f"-c statement_timeout={self._statement_timeout_ms}",
        )

    def publish(self, payload: str) -> None:
        with self._lock:
            try:
                if self._sender is None or self._sender.closed:
                    self._sender = self._connect()
                self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except Exception:
                self._close_sender()
                raise

    def listen(self, deliver: Callable[[str], None], stop: threading.Event) -> None:
        with self._connect() as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            deliver("")
            while not stop.is_set():
                for note in connection.notifies(timeout=LISTEN_TICK_SECONDS):
                    deliver(note.payload)
                    if stop.is_set():
                        break

    def _close_sender(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def close(self) -> None:
        with self._lock:
            self._close_sender()


def bus_for(settings: Settings) -> Bus | None:
    """The bus the settings call for: Redis when set, else PostgreSQL; none on SQLite."""
    mode = settings.change_relay
    if mode == "off":
        return None
    if settings.redis_url and mode in ("auto", "redis"):
        return RedisBus(settings.redis_url, timeout_seconds=settings.redis_timeout_seconds)
    if not settings.is_sqlite and mode in ("auto", "postgres"):
        return PostgresBus(settings.resolved_database_url, timeout_seconds=POSTGRES_TIMEOUT_SECONDS)
    return None
