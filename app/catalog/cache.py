"""Keeps the current catalogue snapshot and notices when another process changed it."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from anyio import to_thread

from app.catalog.loading import MediaUrl, load_snapshot, read_content_version
from app.catalog.snapshot import CatalogSnapshot
from app.core.db import Database

logger = logging.getLogger("app.catalog")


class CatalogCache:
    """The published catalogue, rebuilt whenever the content version moves.

    The version is read at most once per `poll_seconds`, off the event loop;
    between checks a request costs no database work at all.
    """

    def __init__(self, db: Database, *, media_url: MediaUrl, poll_seconds: float) -> None:
        self._db = db
        self._media_url = media_url
        self._poll_seconds = poll_seconds
        self._snapshot: CatalogSnapshot | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._checking = False
        self._background: asyncio.Task[None] | None = None

    async def current(self) -> CatalogSnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            return await to_thread.run_sync(self.refresh)
        if time.monotonic() - self._checked_at >= self._poll_seconds and not self._checking:
            if self._poll_seconds == 0:
                return await to_thread.run_sync(self.refresh)
            # One check at a time, in the background; meanwhile everyone is served the
            # snapshot in hand (at most one poll interval old), so no request waits on it.
            self._checking = True
            self._background = asyncio.get_running_loop().create_task(self._check())
        return snapshot

    async def _check(self) -> None:
        try:
            await to_thread.run_sync(self.refresh)
        except Exception:  # the next poll tries again; reads keep the snapshot in hand
            logger.exception("Checking the content version failed")
        finally:
            self._checking = False

    def refresh(self) -> CatalogSnapshot:
        """Check the content version now; rebuild the snapshot if it moved."""
        with self._lock:
            with self._db.read_session() as session:
                version = read_content_version(session)
                snapshot = self._snapshot
                if snapshot is None or snapshot.version != version:
                    snapshot = load_snapshot(session, media_url=self._media_url)
                    self._snapshot = snapshot
            self._checked_at = time.monotonic()
            return snapshot

    def is_behind(self) -> bool:
        """Whether the snapshot in hand is older than the content in the database."""
        snapshot = self._snapshot
        if snapshot is None:
            return False  # the next read loads the current content anyway
        with self._db.read_session() as session:
            return read_content_version(session) != snapshot.version

    def invalidate(self) -> None:
        """Forget the snapshot: the next read rebuilds it (after a write in this process)."""
        with self._lock:
            self._snapshot = None
            self._checked_at = float("-inf")
