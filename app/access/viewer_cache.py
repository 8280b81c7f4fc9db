"""A short-lived, per-process memory of who a bearer token belongs to and how far they are.

Building a viewer costs a few queries (the account and sign-in, enrollments,
the evaluation behind the unlock hints). Catalogue reads come in bursts, so
each token's viewer is kept for `VIEWER_CACHE_SECONDS` (a couple of seconds:
a disabled account or revoked sign-in still stops working within seconds),
and is forgotten at once when that person's progress or sign-in changes in
this process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from anyio import to_thread

ValueT = TypeVar("ValueT")
MAX_ENTRIES = 10_000


class TokenCache(Generic[ValueT]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, int, ValueT]] = {}
        self._lock = threading.Lock()
        # Loads in flight, shared by every request that wants the same key meanwhile.
        self._loading: dict[str, asyncio.Task[ValueT]] = {}
        # When each person was last forgotten (a running count of forgets), so a load
        # that began before their change is not kept after it.
        self._forgets = 0
        self._forgotten_at: dict[int, int] = {}
        self._trusted_from = 0  # loads started before this count are never kept

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

    async def get_or_load(
        self, key: str, load: Callable[[], ValueT], user_of: Callable[[ValueT], int]
    ) -> ValueT:
        """The value for `key`, loaded in a worker thread when missing.

        When many requests miss the same key at once (a burst as the entry expires),
        one load runs and they all wait for it, instead of each querying the database.
        """
        value = self.get(key)
        if value is not None:
            return value
        task = self._loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(key, load, user_of))
            self._loading[key] = task
        # Shielded: a caller that goes away does not cancel the load the others wait on.
        return await asyncio.shield(task)

    async def _load(
        self, key: str, load: Callable[[], ValueT], user_of: Callable[[ValueT], int]
    ) -> ValueT:
        started_at = self._forgets
        try:
            value = await to_thread.run_sync(load)
            user_id = user_of(value)
            fresh = started_at >= self._trusted_from
            if fresh and self._forgotten_at.get(user_id, 0) <= started_at:
                self.put(key, user_id, value)
            return value
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]

    def forget_user(self, user_id: int) -> None:
        """Drop every cached viewer of `user_id` (their stage, sessions or sign-in changed)."""
        with self._lock:
            self._forgets += 1
            if len(self._forgotten_at) >= MAX_ENTRIES:
                self._forgotten_at.clear()  # bounded: loads begun before now are not kept
                self._trusted_from = self._forgets
            self._forgotten_at[user_id] = self._forgets
            # Whose loads are in flight is not known until they finish: requests from now
            # on start fresh ones rather than wait for an answer from before the change.
            self._loading.clear()
            for token in [t for t, (_, uid, _) in self._entries.items() if uid == user_id]:
                del self._entries[token]
