"""Rate limits with slowapi's limiter: Redis when REDIS_URL is set, process memory otherwise.

Limits are checked in code rather than with route decorators because the
per-account key comes from the request body (the email in a login form), and
every app instance gets its own configured limiter.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

from fastapi import Request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from slowapi.util import get_remote_address

from app.core.errors import TooManyRequestsError
from app.core.state import StateKey

logger = logging.getLogger("app.ratelimit")

# Namespaces the counters, so deployments can share one Redis.
KEY_PREFIX = "rehab"
# After Redis failed, how long counting stays in this process before Redis is tried again:
# a Redis that is down costs one bounded timeout per interval, not one per request.
RETRY_SHARED_SECONDS = 5.0

T = TypeVar("T")
SharedState = Literal["ok", "unavailable", "not configured"]


class RateLimiter:
    """Moving-window counters in Redis (shared by every instance) or in this process.

    When Redis is unreachable or hangs, each call waits at most `timeout_seconds`, logs a
    warning, and counts in this process instead: limits then hold per instance rather
    than across them, and sign-in never fails because Redis did.
    """

    def __init__(self, *, storage_uri: str | None, timeout_seconds: float = 1.0) -> None:
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if storage_uri and not storage_uri.startswith("memory://"):
            storage = storage_from_string(
                storage_uri,
                wrap_exceptions=True,
                socket_timeout=timeout_seconds,
                socket_connect_timeout=timeout_seconds,
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._lock = threading.Lock()
        self._shared_down_until = float("-inf")

    def hit(self, rate: str, *, scope: str, key: str) -> None:
        """Count one attempt; raise 429 with Retry-After once `rate` is exceeded."""
        item = parse(rate)
        if self._use(lambda strategy: strategy.hit(item, KEY_PREFIX, scope, key)):
            return
        reset_at = self._use(
            lambda strategy: strategy.get_window_stats(item, KEY_PREFIX, scope, key).reset_time
        )
        raise TooManyRequestsError(
            "Too many attempts. Wait a little and try again.",
            retry_after=max(1, math.ceil(reset_at - time.time())),
        )

    def count(self, rate: str, *, scope: str, key: str) -> bool:
        """Count one event without refusing anything: False once `rate` is exceeded."""
        item: RateLimitItem = parse(rate)
        return self._use(lambda strategy: strategy.hit(item, KEY_PREFIX, scope, key))

    def exceeded(self, rate: str, *, scope: str, key: str) -> bool:
        """Whether `rate` is already used up, without counting anything."""
        item = parse(rate)
        return not self._use(lambda strategy: strategy.test(item, KEY_PREFIX, scope, key))

    def reset(self) -> None:
        self._local.storage.reset()
        if self._shared is not None:
            self._use(lambda strategy: strategy.storage.reset())

    def shared_state(self) -> SharedState:
        """Whether the shared counters answer now (a bounded round trip when configured)."""
        if self._shared is None:
            return "not configured"
        return "ok" if self._shared.storage.check() else "unavailable"

    def _use(self, call: Callable[[MovingWindowRateLimiter], T]) -> T:
        shared = self._shared
        if shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                return call(shared)
            except StorageError as exc:
                with self._lock:
                    self._shared_down_until = time.monotonic() + RETRY_SHARED_SECONDS
                logger.warning(
                    "Redis does not answer (%r); rate limits count in this process for now",
                    exc.storage_error,
                )
        return call(self._local)


def client_address(request: Request) -> str:
    return get_remote_address(request)


def account_key(email: str) -> str:
    """A stable key for an account that keeps the address itself out of the counter store."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


RATE_LIMITER = StateKey[RateLimiter]("rate_limiter")
