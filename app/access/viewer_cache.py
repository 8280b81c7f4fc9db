"""A short-lived, per-process memory of who a bearer token belongs to and how far they are.

Building a viewer costs a few queries (the account and sign-in, enrollments,
the evaluation behind the unlock hints). Catalogue reads come in bursts, so
each token's viewer is kept for `VIEWER_CACHE_SECONDS` (a couple of seconds:
a disabled account or revoked sign-in still stops working within seconds),
and is forgotten at once when that person's progress or sign-in changes in
this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

ValueT = TypeVar("ValueT")
MAX_ENTRIES = 10_000


class TokenCache(Generic[ValueT]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, int, ValueT]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> ValueT | None:
        if self._ttl <= 0:
            return None
        entry = self._entries.get(token)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[2]

    def put(self, token: str, user_id: int, value: ValueT) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[token] = (self._clock() + self._ttl, user_id, value)

    def forget_user(self, user_id: int) -> None:
        """Drop every cached viewer of `user_id` (their stage, sessions or sign-in changed)."""
        with self._lock:
            for token in [t for t, (_, uid, _) in self._entries.items() if uid == user_id]:
                del self._entries[token]
