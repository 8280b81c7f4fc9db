"""Sending one webhook delivery: consent and the target checked again, the body signed,
one POST.

The outbox worker (`app.outbox.worker`) claims, retries and records; this is
the webhook channel's sender. The signature lets the receiver check who sent the
body and that it is fresh (see `app.clinics.webhooks.signature`).

What is recorded of a failed attempt is a coarse class, never the network's own
words (which would tell a clinic about hosts and ports it cannot otherwise see):

| `last_error` | meaning |
| --- | --- |
| `http_<status>` | the receiver answered with a status outside 2xx |
| `timeout` | no answer within `WEBHOOK_TIMEOUT_SECONDS` |
| `connection_failed` | the host could not be reached (refused, reset, unreachable, DNS) |
| `tls_failed` | the TLS handshake or the certificate failed |
| `unsafe_target` | the URL now resolves to a private, loopback or reserved address |
| `request_failed` | any other failure of the request |
| `subscription_gone` | the subscription was deleted meanwhile |
| `secret_unreadable` | the secret was sealed under another SECRET_KEY |
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime

import httpx
from cryptography.fernet import InvalidToken
from sqlmodel import Session

from app.clinics.models import EventType, WebhookSubscription
from app.clinics.webhooks import (
    UnsafeTargetError,
    check_target,
    consents,
    pinned_request,
    signature,
    signing_secrets,
)
from app.core.db import Database
from app.core.json import dumps
from app.core.models import utcnow
from app.core.secrets import SecretBox
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
                return Outcome(error="subscription_gone", permanent=True)
            if not _still_consented(session, message, subscription.clinic_id):
                return Outcome(cancelled=True)
        try:
            secrets_ = signing_secrets(subscription, self._box, self._clock())
        except InvalidToken:
            # Sealed under another SECRET_KEY: this row can never be signed.
            return Outcome(error="secret_unreadable", permanent=True)
        body = dumps(message.payload)
        timestamp = int(self._clock().timestamp())
        try:
            address = check_target(subscription.url, allow_private=self._allow_private)
            url, host, extensions = pinned_request(subscription.url, address)
            response = self._client.post(
                url,
                content=body,
                headers={
                    **host,
                    "content-type": "application/json",
                    "user-agent": "rehab-api-webhooks/1",
                    "webhook-id": message.event_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": signature(secrets_, message.event_id, timestamp, body),
                },
                extensions=extensions,
                follow_redirects=False,
            )
        except UnsafeTargetError:
            return Outcome(error="unsafe_target")
        except httpx.TimeoutException:
            return Outcome(error="timeout")
        except httpx.ConnectError as exc:
            return Outcome(error="tls_failed" if _tls_failure(exc) else "connection_failed")
        except httpx.HTTPError:
            return Outcome(error="request_failed")
        if not 200 <= response.status_code < 300:
            return Outcome(status_code=response.status_code, error=f"http_{response.status_code}")
        return Outcome(status_code=response.status_code)


def _still_consented(session: Session, message: Claimed, clinic_id: int) -> bool:
    """Whether the patient this delivery is about still consents to the clinic.

    Checked again just before sending, so nothing about a patient reaches a clinic
    after they withdrew, whatever was queued or retrying. The news of the withdrawal
    itself (`link.revoked`) is the one exception.
    """
    if message.user_id is None or message.event_type == EventType.LINK_REVOKED:
        return True
    return consents(session, message.user_id, clinic_id)


def _tls_failure(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
