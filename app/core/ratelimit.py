"""Rate limits with slowapi's limiter: Redis when REDIS_URL is set, process memory otherwise.

Limits are checked in code rather than with route decorators because the
per-account key comes from the request body (the email in a login form), and
every app instance gets its own configured limiter.
"""

from __future__ import annotations

import hashlib
import math
import time

from fastapi import Request
from limits import parse
from slowapi import Limiter
from slowapi.util import get_remote_address

from app.core.errors import TooManyRequestsError
from app.core.state import StateKey

# Namespaces the counters, so deployments can share one Redis.
KEY_PREFIX = "rehab"


class RateLimiter:
    def __init__(self, *, storage_uri: str | None) -> None:
        self._limiter = Limiter(
            key_func=get_remote_address,
            storage_uri=storage_uri or "memory://",
            strategy="moving-window",
        )

    def hit(self, rate: str, *, scope: str, key: str) -> None:
        """Count one attempt; raise 429 with Retry-After once `rate` is exceeded."""
        item = parse(rate)
        strategy = self._limiter.limiter
        if strategy.hit(item, KEY_PREFIX, scope, key):
            return
        reset_at = strategy.get_window_stats(item, KEY_PREFIX, scope, key).reset_time
        raise TooManyRequestsError(
            "Too many attempts. Wait a little and try again.",
            retry_after=math.ceil(reset_at - time.time()),
        )

    def count(self, rate: str, *, scope: str, key: str) -> bool:
        """Count one event without refusing anything: False once `rate` is exceeded."""
        allowed: bool = self._limiter.limiter.hit(parse(rate), KEY_PREFIX, scope, key)
        return allowed

    def exceeded(self, rate: str, *, scope: str, key: str) -> bool:
        """Whether `rate` is already used up, without counting anything."""
        under: bool = self._limiter.limiter.test(parse(rate), KEY_PREFIX, scope, key)
        return not under

    def reset(self) -> None:
        self._limiter.reset()


def client_address(request: Request) -> str:
    return get_remote_address(request)


def account_key(email: str) -> str:
    """A stable key for an account that keeps the address itself out of the counter store."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


RATE_LIMITER = StateKey[RateLimiter]("rate_limiter")
