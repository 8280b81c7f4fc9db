"""Sending one webhook delivery: the target checked again, the body signed, one POST.

The outbox worker (`app.outbox.worker`) claims, retries and records; this is
the webhook channel's sender. The signature lets the receiver check who sent the
body and that it is fresh (see `app.clinics.webhooks.signature`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from cryptography.fernet import InvalidToken

from app.clinics.models import WebhookSubscription
from app.clinics.webhooks import SecretBox, UnsafeTargetError, check_target, signature
from app.core.db import Database
from app.core.json import dumps
from app.core.models import utcnow
from app.outbox.worker import Claimed, Outcome


class WebhookSender:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        *,
        timeout_seconds: float,
        allow_private: bool,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._box = box
        self._timeout = timeout_seconds
        self._allow_private = allow_private
        self._client = client or httpx.Client(timeout=timeout_seconds)
        self._clock = clock

    def seconds_per_message(self) -> float:
        return self._timeout

    def send(self, message: Claimed) -> Outcome:
        with self._db.read_session() as session:
            subscription = (
                session.get(WebhookSubscription, message.subscription_id)
                if message.subscription_id is not None
                else None
            )
        if subscription is None:
            return Outcome(error="The subscription no longer exists.", permanent=True)
        try:
            secret = self._box.open(subscription.secret_encrypted)
        except InvalidToken:
            # Sealed under another SECRET_KEY: this row can never be signed.
            return Outcome(
                error="The signing secret cannot be read (SECRET_KEY changed?).", permanent=True
            )
        body = dumps(message.payload)
        timestamp = int(self._clock().timestamp())
        try:
            check_target(subscription.url, allow_private=self._allow_private)
            response = self._client.post(
                subscription.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "rehab-api-webhooks/1",
                    "Webhook-Id": message.event_id,
                    "Webhook-Timestamp": str(timestamp),
                    "Webhook-Signature": signature(secret, message.event_id, timestamp, body),
                },
                follow_redirects=False,
            )
        except UnsafeTargetError as exc:
            return Outcome(error=exc.detail)
        if not 200 <= response.status_code < 300:
            return Outcome(status_code=response.status_code, error=f"HTTP {response.status_code}")
        return Outcome(status_code=response.status_code)
