"""What the clock brings with no request: reminders whose time has come, and adherence
that fell below a clinic's threshold.

Whatever sends the outbox runs them (`rehab worker`, or a server with `WEBHOOK_WORKER`
on), so one `make run` mails reminders and tells clinics of low adherence with nothing
else to schedule. Several processes may sweep at once: reminders are claimed row by row
(SKIP LOCKED); the adherence check runs in one process at a time (a transaction-level
advisory lock on PostgreSQL; SQLite has one writer), so nothing is told twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from app.catalog.loading import load_snapshot
from app.core.db import Database
from app.core.models import utcnow
from app.outcomes import reminders
from app.outcomes.alerts import check_adherence

REMINDERS_EVERY_SECONDS = 30.0  # a reminder is queued within half a minute of its time
# Any constant of this deployment's own; "adhere" in ASCII.
ADHERENCE_LOCK_KEY = 0x616468657265

logger = logging.getLogger("app.sweeps")


def queue_reminders(session: Session, now: datetime) -> int:
    return reminders.send_due(session, now=now)


def queue_adherence_alerts(session: Session, now: datetime) -> int:
    """`adherence.low` where it is news; 0 when another process is checking right now."""
    if session.get_bind().dialect.name == "postgresql":
        taken = session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADHERENCE_LOCK_KEY}
        ).scalar_one()
        if not taken:
            return 0
    # Media links play no part in adherence.
    snapshot = load_snapshot(session, media_url=lambda key: key)
    return check_adherence(session, snapshot=snapshot, now=now)


Sweep = Callable[[Session, datetime], int]


class Sweeps:
    """Each sweep on its own period, in its own transaction; a failure waits for the next."""

    def __init__(
        self,
        database: Database,
        *,
        adherence_every_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._clock = clock
        self._periods: list[tuple[str, Sweep, float]] = [
            ("reminders", queue_reminders, REMINDERS_EVERY_SECONDS)
        ]
        if adherence_every_seconds > 0:
            self._periods.append(("adherence", queue_adherence_alerts, adherence_every_seconds))
        self._next = {name: 0.0 for name, _, _ in self._periods}

    def run_due(self) -> dict[str, int]:
        """Run the sweeps whose time has come; what each queued."""
        queued: dict[str, int] = {}
        for name, sweep, period in self._periods:
            if time.monotonic() < self._next[name]:
                continue
            self._next[name] = time.monotonic() + period
            queued[name] = self._run(name, sweep)
        return queued

    def _run(self, name: str, sweep: Sweep) -> int:
        try:
            with self._database.write_session() as session:
                return sweep(session, self._clock())
        except Exception:  # logged; the outbox and the other sweeps keep running
            logger.exception("the %s sweep failed", name)
            return 0

    def run_forever(self, stop: threading.Event, tick_seconds: float = 1.0) -> None:
        while not stop.is_set():
            self.run_due()
            stop.wait(tick_seconds)
