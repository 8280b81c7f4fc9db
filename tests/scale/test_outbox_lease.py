"""A killed worker's claimed messages are sent by another within 30 s; a working lane keeps
its rows by renewing their leases, so no healthy send is taken from it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import select

from app.core.db import Database
from app.core.models import utcnow
from app.outbox.models import Channel, DeliveryStatus, OutboxMessage
from app.outbox.worker import Claimed, OutboxWorker, Outcome, RetryPolicy

MESSAGES = 10
RESUMED_WITHIN = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


class Recording:
    """A mail sender that records what it sent; `during` runs inside each send."""

    def __init__(self, during: Callable[[], None] = lambda: None) -> None:
        self.sent: list[int] = []
        self.during = during

    def seconds_per_message(self) -> float:
        return 10.0  # the SMTP timeout, as configured by default

    def send(self, message: Claimed) -> Outcome:
        self.sent.append(message.message_id)
        self.during()
        return Outcome()


def queue_mail(database: Database, count: int, now: datetime) -> None:
    with database.write_session() as session:
        for _ in range(count):
            session.add(
                OutboxMessage(
                    channel=Channel.MAIL,
                    event_id=str(uuid.uuid4()),
                    event_type="mail",
                    payload={},
                    next_attempt_at=now - timedelta(seconds=1),
                )
            )


def worker(database: Database, sender: Recording, clock: Clock) -> OutboxWorker:
    retry = RetryPolicy(max_attempts=3, backoff_seconds=30)
    return OutboxWorker(database, {Channel.MAIL: sender}, retry, clock=clock)


def test_a_killed_workers_messages_are_sent_by_another_within_30_seconds(
    database: Database,
) -> None:
    clock = Clock()
    queue_mail(database, MESSAGES, clock.now)
    killed = worker(database, Recording(), clock)
    claimed = killed._claim(MESSAGES, busy=frozenset())  # claimed, then the process died
    assert sum(len(items) for items in claimed.values()) == MESSAGES

    survivor_sends = Recording()
    survivor = worker(database, survivor_sends, clock)
    assert survivor.run_once() == 0  # the leases still hold
    clock.now += RESUMED_WITHIN
    assert survivor.run_once() == MESSAGES
    assert len(survivor_sends.sent) == MESSAGES


def test_a_working_lane_renews_its_leases(database: Database) -> None:
    clock = Clock()
    queue_mail(database, 4, clock.now)
    other_sends = Recording()
    other = worker(database, other_sends, clock)

    def slow_send() -> None:  # each send takes 15 s, and another worker looks meanwhile
        clock.now += timedelta(seconds=15)
        other.run_once()

    sends = Recording(during=slow_send)
    assert worker(database, sends, clock).run_once() == 4
    assert len(sends.sent) == 4
    assert other_sends.sent == []  # nothing was taken from the working lane
    with database.read_session() as session:
        messages = session.exec(select(OutboxMessage)).all()
    assert {m.status for m in messages} == {DeliveryStatus.DELIVERED}
    assert {m.attempts for m in messages} == {1}
