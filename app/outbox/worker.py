"""The outbox worker: claims due messages, hands each to its channel's sender, retries.

Safe with several workers: a row is claimed by setting a short lease inside a
transaction that locks it (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's
single writer does the same job), so one worker sends it. A worker that dies
mid-send leaves the lease to expire and the row is sent again: delivery is at
least once, and the message's event id lets receivers drop duplicates.

A lease lasts `OUTBOX_LEASE_SECONDS` (or one send's timeout, if longer), and a
working lane renews its rows' leases as it goes. Leases once covered a whole
batch up front, so a killed worker's claimed messages waited minutes; now they
are sent by another worker within one lease.

A worker asked to stop claims nothing more: the message in flight finishes
and is recorded, and the rest of its batch is released at once for the next
worker instead of waiting out the lease.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, true
from sqlmodel import col, select

from app.core.db import Database
from app.core.models import as_utc, utcnow
from app.outbox.models import Channel, DeliveryStatus, OutboxMessage

logger = logging.getLogger("app.outbox")
MAX_BACKOFF = timedelta(hours=6)
SEND_MARGIN = timedelta(seconds=5)  # a lease outlasts the longest send by this much
DEFAULT_LEASE_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message this worker holds while its lease lasts."""

    message_id: int
    channel: Channel
    event_id: str
    event_type: str
    payload: dict[str, Any]
    subscription_id: int | None
    user_id: int | None  # whom it is about
    lease_until: datetime  # the claim is ours only while the row still carries this


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went. `keep` replaces the stored payload once delivered (mail bodies
    carry single-use links, so only what the person may later ask about is kept)."""

    status_code: int | None = None
    error: str | None = None
    permanent: bool = False  # no later attempt can succeed
    cancelled: bool = False  # no longer owed (consent withdrawn): not sent, never retried
    keep: dict[str, Any] | None = None


class Sender(Protocol):
    """Sends one claimed message over its channel (in the worker's thread)."""

    def send(self, message: Claimed) -> Outcome: ...

    def seconds_per_message(self) -> float:
        """The longest one send may take: leases cover a whole batch of them."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: int


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Exponential: base, 2x base, 4x base, ... capped at six hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


Lane = int  # whose messages go one after another: a clinic's id, or MAIL_LANE
MAIL_LANE = -1


@dataclass(frozen=True, slots=True)
class Pacing:
    """How much is sent at once: `lanes` in parallel (a clinic's webhooks are one lane, all
    mail another), at most `per_lane` messages claimed for a lane at a time."""

    lanes: int = 8
    per_lane: int = 10


class OutboxWorker:
    """Sends the outbox lane by lane, the lanes side by side.

    A clinic whose receiver is slow fills only its own lane: the others go on, so it
    delays nobody but itself. A lane's messages go in order, one at a time.
    """

    def __init__(
        self,
        database: Database,
        senders: Mapping[Channel, Sender],
        retry: RetryPolicy,
        *,
        pacing: Pacing = Pacing(),
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._db = database
        self._senders = dict(senders)
        self._retry = retry
        self._pacing = pacing
        self._clock = clock
        self._lease_seconds = lease_seconds

    def only(self, *channels: Channel) -> OutboxWorker:
        """This worker for some channels only (the rest stay queued for another)."""
        senders = {channel: self._senders[channel] for channel in channels}
        return OutboxWorker(
            self._db,
            senders,
            self._retry,
            pacing=self._pacing,
            clock=self._clock,
            lease_seconds=self._lease_seconds,
        )

    def _lease(self, channel: Channel) -> timedelta:
        """How long a claim on one message lasts: long enough for its send to finish."""
        one_send = timedelta(seconds=self._senders[channel].seconds_per_message()) + SEND_MARGIN
        return max(timedelta(seconds=self._lease_seconds), one_send)

    def run_once(self, limit: int = 50, stop: threading.Event | None = None) -> int:
        """Send what is due now, lanes in parallel; return how many messages were attempted.

        Once `stop` is set no further message starts: the rest is released at once.
        """
        if not self._anything_due():
            return 0  # a read, so an idle worker never takes SQLite's write lock
        lanes = self._claim(limit, busy=frozenset())
        if not lanes:
            return 0
        with ThreadPoolExecutor(max_workers=self._pacing.lanes) as pool:
            sent = pool.map(lambda items: self._send_lane(items, stop), lanes.values())
            return sum(sent)

    def run_forever(self, poll_seconds: float, stop: threading.Event | None = None) -> None:
        """Deliver until `stop` is set; messages in flight then finish and are recorded.

        Lanes are taken up as threads free, without waiting for a slow lane to end.
        """
        stop = stop or threading.Event()
        running: dict[Future[int], Lane] = {}
        with ThreadPoolExecutor(max_workers=self._pacing.lanes) as pool:
            while not stop.is_set():
                free = self._pacing.lanes - len(running)
                try:
                    due = free > 0 and self._anything_due()
                    busy = frozenset(running.values())
                    lanes = self._claim(free * self._pacing.per_lane, busy=busy) if due else {}
                except Exception:  # keep delivering after a database hiccup
                    logger.exception("Outbox round failed")
                    lanes = {}
                for lane, items in list(lanes.items())[:free]:
                    running[pool.submit(self._send_lane, items, stop)] = lane
                if not running:
                    stop.wait(poll_seconds)  # wakes at once when asked to stop
                    continue
                done, _ = wait(running, timeout=poll_seconds, return_when=FIRST_COMPLETED)
                for future in done:
                    del running[future]
                    if future.exception() is not None:
                        logger.error("An outbox lane failed", exc_info=future.exception())
            wait(running)

    def _send_lane(self, items: list[Claimed], stop: threading.Event | None) -> int:
        pending, sent = list(items), 0
        while pending:
            if stop is not None and stop.is_set():
                self._release(pending)
                break
            pending = self._keep_leased(pending)
            if not pending:
                break
            self._send(pending[0])
            pending, sent = pending[1:], sent + 1
        return sent

    def _keep_leased(self, items: list[Claimed]) -> list[Claimed]:
        """Renew the leases of a lane's waiting rows once half a lease has gone by; a row
        whose lease ran out meanwhile belongs to whichever worker took it and is dropped."""
        now = self._clock()
        if all(as_utc(item.lease_until) - now > self._lease(item.channel) / 2 for item in items):
            return items
        kept: list[Claimed] = []
        with self._db.write_session() as session:
            query = select(OutboxMessage).where(
                col(OutboxMessage.id).in_([item.message_id for item in items])
            )
            if not self._db.is_sqlite:
                query = query.with_for_update()
            rows = {row.id: row for row in session.exec(query)}
            for item in items:
                message = rows.get(item.message_id)
                if message is None or message.locked_until is None:
                    continue
                if as_utc(message.locked_until) != as_utc(item.lease_until):
                    continue  # the lease ran out and another worker owns the row now
                message.locked_until = now + self._lease(item.channel)
                session.add(message)
                kept.append(replace(item, lease_until=message.locked_until))
        return kept

    def _due(self, now: datetime) -> Any:
        return (
            col(OutboxMessage.status) == DeliveryStatus.PENDING,
            col(OutboxMessage.next_attempt_at) <= now,
            col(OutboxMessage.channel).in_(list(self._senders)),
        )

    def _anything_due(self) -> bool:
        with self._db.read_session() as session:
            due = session.exec(
                select(OutboxMessage.id).where(*self._due(self._clock())).limit(1)
            ).first()
        return due is not None

    def _claim(self, limit: int, *, busy: frozenset[Lane]) -> dict[Lane, list[Claimed]]:
        """Lease up to `limit` due messages, a fair share per lane, none of a busy lane."""
        now = self._clock()
        free = or_(col(OutboxMessage.locked_until).is_(None), col(OutboxMessage.locked_until) < now)
        lane = func.coalesce(col(OutboxMessage.clinic_id), MAIL_LANE)
        rank = func.row_number().over(
            partition_by=lane,
            order_by=(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id)),
        )
        candidates = (
            select(col(OutboxMessage.id).label("id"), lane.label("lane"), rank.label("rank"))
            .select_from(OutboxMessage)
            .where(*self._due(now), free, lane.not_in(busy) if busy else true())
            .subquery()
        )
        with self._db.write_session() as session:
            picked = session.execute(
                select(candidates.c.id, candidates.c.lane)
                .where(candidates.c.rank <= self._pacing.per_lane)
                .order_by(candidates.c.rank, candidates.c.id)
                .limit(limit)
            ).all()
            lane_of: dict[int, Lane] = {row.id: row.lane for row in picked}
            query = select(OutboxMessage).where(
                col(OutboxMessage.id).in_(list(lane_of)), *self._due(now), free
            )
            if not self._db.is_sqlite:  # another worker may hold some: skip those
                query = query.with_for_update(skip_locked=True)
            messages = session.exec(query.order_by(col(OutboxMessage.id))).all()
            lanes: dict[Lane, list[Claimed]] = defaultdict(list)
            for message in messages:
                assert message.id is not None
                lane_id = lane_of[message.id]
                # The lane renews it as it goes (`_keep_leased`); if this worker dies, the
                # row is free again one lease from now.
                message.locked_until = now + self._lease(message.channel)
                session.add(message)
                lanes[lane_id].append(
                    Claimed(
                        message_id=message.id,
                        channel=message.channel,
                        event_id=message.event_id,
                        event_type=message.event_type,
                        payload=message.payload,
                        subscription_id=message.subscription_id,
                        user_id=message.user_id,
                        lease_until=message.locked_until,
                    )
                )
        for items in lanes.values():
            items.sort(key=lambda item: item.message_id)
        return dict(lanes)

    def _send(self, item: Claimed) -> None:
        try:
            outcome = self._senders[item.channel].send(item)
        except Exception:  # one message's failure is that message's, not the round's
            logger.exception("Sending outbox message %s failed", item.message_id)
            outcome = Outcome(error="internal_error")
        self._record(item, outcome)

    def _release(self, items: list[Claimed]) -> None:
        """Give claimed rows back untouched, so another worker may send them now."""
        with self._db.write_session() as session:
            for item in items:
                message = session.get(OutboxMessage, item.message_id)
                if message is None or message.locked_until is None:
                    continue
                if as_utc(message.locked_until) == as_utc(item.lease_until):
                    message.locked_until = None
                    session.add(message)

    def _record(self, item: Claimed, outcome: Outcome) -> None:
        now = self._clock()
        with self._db.write_session() as session:
            message = session.get(OutboxMessage, item.message_id)
            if message is None or message.locked_until is None:
                return
            if as_utc(message.locked_until) != as_utc(item.lease_until):
                return  # the lease ran out and another worker owns the row now
            if outcome.cancelled:
                message.status = DeliveryStatus.CANCELLED
                message.locked_until = None
                session.add(message)
                return
            message.attempts += 1
            message.last_attempt_at = now
            message.last_status_code = outcome.status_code
            message.last_error = outcome.error
            message.locked_until = None
            if outcome.error is None:
                message.status = DeliveryStatus.DELIVERED
                message.delivered_at = now
                if outcome.keep is not None:
                    message.payload = outcome.keep
            elif outcome.permanent or message.attempts >= self._retry.max_attempts:
                message.status = DeliveryStatus.FAILED
            else:
                message.next_attempt_at = now + backoff(
                    message.attempts, self._retry.backoff_seconds
                )
            session.add(message)
