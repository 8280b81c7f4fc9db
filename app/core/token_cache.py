"""A short-lived, per-process memory of what a bearer token stands for.

Checking a token costs a few queries (the account and sign-in; for catalogue
reads also the stages reached and the evaluation behind the unlock hints).
Reads come in bursts, so each token's answer is kept for a couple of seconds
(`VIEWER_CACHE_SECONDS`) and forgotten at once when its owner (a person or an
API client) changes: the change events of `app.core.changes` say when.
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
        self._entries: dict[str, tuple[float, str, ValueT]] = {}
        self._lock = threading.Lock()
        # Loads in flight, shared by every request that wants the same key meanwhile.
        self._loading: dict[str, asyncio.Task[ValueT]] = {}
        # When each owner was last forgotten (a running count of forgets), so a load
        # that began before their change is not kept after it.
        self._forgets = 0
        self._forgotten_at: dict[str, int] = {}
        self._trusted_from = 0  # loads started before this count are never kept

    def get(self, token: str) -> ValueT | None:
        if self._ttl <= 0:
            return None
        entry = self._entries.get(token)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[2]

    def put(self, token: str, owner: str, value: ValueT) -> None:
        with self._lock:
            self._put(token, owner, value)

    async def get_or_load(
        self, key: str, load: Callable[[], ValueT], owner_of: Callable[[ValueT], str]
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
            task = asyncio.get_running_loop().create_task(self._load(key, load, owner_of))
            self._loading[key] = task
        # Shielded: a caller that goes away does not cancel the load the others wait on.
        return await asyncio.shield(task)

    async def _load(
        self, key: str, load: Callable[[], ValueT], owner_of: Callable[[ValueT], str]
    ) -> ValueT:
        started_at = self._forgets
        try:
            value = await to_thread.run_sync(load)
            owner = owner_of(value)
            with self._lock:
                fresh = started_at >= self._trusted_from
                if fresh and self._forgotten_at.get(owner, 0) <= started_at:
                    self._put(key, owner, value)
            return value
        finally:
            # A forget (from any thread) may have emptied the table meanwhile.
            if self._loading.get(key) is asyncio.current_task():
                self._loading.pop(key, None)

    def _put(self, token: str, owner: str, value: ValueT) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token] = (self._clock() + self._ttl, owner, value)

    def forget_owner(self, owner: object) -> None:
        """Drop every cached entry of `owner` (a person or an API client changed)."""
        key = str(owner)
        with self._lock:
            self._forgets += 1
            if len(self._forgotten_at) >= MAX_ENTRIES:
                self._forgotten_at.clear()  # bounded: loads begun before now are not kept
                self._trusted_from = self._forgets
            self._forgotten_at[key] = self._forgets
            # Whose loads are in flight is not known until they finish: requests from now
            # on start fresh ones rather than wait for an answer from before the change.
            self._loading.clear()
            for token in [t for t, (_, who, _) in self._entries.items() if who == key]:
                del self._entries[token]

    def invalidate(self) -> None:
        """Forget everything (what every entry was built from changed)."""
        with self._lock:
            self._forgets += 1
            self._trusted_from = self._forgets
            self._loading.clear()
            self._entries.clear()
