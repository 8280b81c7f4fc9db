"""The webhook delivery worker: claims due outbox rows, signs, posts, retries with backoff.

Safe with several workers: a row is claimed by setting a short lease inside a
transaction that locks it (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's
single writer does the same job), so one worker sends it. A worker that dies
mid-send leaves the lease to expire and the row is sent again: delivery is at
least once, and `Webhook-Id` lets receivers drop duplicates.

A worker asked to stop claims nothing more: the delivery in flight finishes
and is recorded, and the rest of its batch is released at once for the next
worker instead of waiting out the lease.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from cryptography.fernet import InvalidToken
from sqlalchemy import or_
from sqlmodel import col, select

from app.clinics.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from app.clinics.webhooks import SecretBox, UnsafeTargetError, check_target, signature
from app.core.db import Database
from app.core.json import dumps
from app.core.models import as_utc, utcnow

logger = logging.getLogger("app.webhooks")
MAX_BACKOFF = timedelta(hours=6)
LEASE_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    max_attempts: int
    backoff_seconds: int
    timeout_seconds: float
    allow_private: bool


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    event_id: str
    payload: dict[str, object]
    url: str
    secret: str
    lease_until: datetime  # the claim is ours only while the row still carries this


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Exponential: base, 2x base, 4x base, ... capped at six hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


class WebhookWorker:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        settings: DeliverySettings,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._box = box
        self._settings = settings
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)
        self._clock = clock

    def run_once(self, limit: int = 50, stop: threading.Event | None = None) -> int:
        """Send what is due now; return how many deliveries were attempted.

        Once `stop` is set no further delivery of the batch starts: the rest is released.
        """
        if not self._anything_due():
            return 0  # a read, so an idle worker never takes SQLite's write lock
        claimed = self._claim(limit)
        for sent, item in enumerate(claimed):
            if stop is not None and stop.is_set():
                self._release(claimed[sent:])
                return sent
            self._send(item)
        return len(claimed)

    def run_forever(self, poll_seconds: float, stop: threading.Event | None = None) -> None:
        """Deliver until `stop` is set; the delivery in flight then finishes and is recorded."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                if self.run_once(stop=stop) == 0:
                    stop.wait(poll_seconds)  # wakes at once when asked to stop
            except Exception:  # keep delivering after a database hiccup
                logger.exception("Webhook delivery round failed")
                stop.wait(poll_seconds)

    def _anything_due(self) -> bool:
        with self._db.read_session() as session:
            due = session.exec(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    col(WebhookDelivery.next_attempt_at) <= self._clock(),
                )
                .limit(1)
            ).first()
        return due is not None

    def _claim(self, limit: int) -> list[Claimed]:
        now = self._clock()
        # Long enough to send the whole batch, so no other worker takes a row we still hold.
        lease_until = now + limit * timedelta(seconds=self._settings.timeout_seconds) + LEASE_MARGIN
        with self._db.write_session() as session:
            query = (
                select(WebhookDelivery, WebhookSubscription)
                .join(
                    WebhookSubscription,
                    col(WebhookSubscription.id) == WebhookDelivery.subscription_id,
                )
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    col(WebhookDelivery.next_attempt_at) <= now,
                    or_(
                        col(WebhookDelivery.locked_until).is_(None),
                        col(WebhookDelivery.locked_until) < now,
                    ),
                )
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
                .limit(limit)
            )
            if not self._db.is_sqlite:
                query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
            claimed = []
            for delivery, subscription in session.exec(query).all():
                assert delivery.id is not None
                try:
                    secret = self._box.open(subscription.secret_encrypted)
                except InvalidToken:
                    # Sealed under another SECRET_KEY: this row can never be signed.
                    delivery.status = DeliveryStatus.FAILED
                    delivery.last_error = "The signing secret cannot be read (SECRET_KEY changed?)."
                    session.add(delivery)
                    continue
                delivery.locked_until = lease_until
                session.add(delivery)
                claimed.append(
                    Claimed(
                        delivery_id=delivery.id,
                        event_id=delivery.event_id,
                        payload=delivery.payload,
                        url=subscription.url,
                        secret=secret,
                        lease_until=lease_until,
                    )
                )
        return claimed

    def _send(self, item: Claimed) -> None:
        body = dumps(item.payload)
        timestamp = int(self._clock().timestamp())
        status_code: int | None = None
        error: str | None = None
        try:
            check_target(item.url, allow_private=self._settings.allow_private)
            response = self._client.post(
                item.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "rehab-api-webhooks/1",
                    "Webhook-Id": item.event_id,
                    "Webhook-Timestamp": str(timestamp),
                    "Webhook-Signature": signature(item.secret, item.event_id, timestamp, body),
                },
                follow_redirects=False,
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except UnsafeTargetError as exc:
            error = exc.detail
        except Exception as exc:  # any failure of one delivery is that delivery's, not the round's
            error = f"{type(exc).__name__}: {exc}"[:500]
        self._record(item, status_code, error)

    def _release(self, items: list[Claimed]) -> None:
        """Give claimed rows back untouched, so another worker may send them now."""
        with self._db.write_session() as session:
            for item in items:
                delivery = session.get(WebhookDelivery, item.delivery_id)
                if delivery is None or delivery.locked_until is None:
                    continue
                if as_utc(delivery.locked_until) == as_utc(item.lease_until):
                    delivery.locked_until = None
                    session.add(delivery)

    def _record(self, item: Claimed, status_code: int | None, error: str | None) -> None:
        now = self._clock()
        with self._db.write_session() as session:
            delivery = session.get(WebhookDelivery, item.delivery_id)
            if delivery is None or delivery.locked_until is None:
                return
            if as_utc(delivery.locked_until) != as_utc(item.lease_until):
                return  # the lease ran out and another worker owns the row now
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.last_status_code = status_code
            delivery.last_error = error
            delivery.locked_until = None
            if error is None:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
            elif delivery.attempts >= self._settings.max_attempts:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.next_attempt_at = now + backoff(
                    delivery.attempts, self._settings.backoff_seconds
                )
            session.add(delivery)
