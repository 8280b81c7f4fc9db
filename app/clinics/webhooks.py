"""Webhook targets, signatures and the secrets kept to sign with.

Signatures follow the Standard Webhooks specification (standardwebhooks.com):
each delivery has `webhook-id` (the event id), `webhook-timestamp` (Unix
seconds) and `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
`"{id}.{timestamp}.{body}"`, keyed with the base64-decoded part of the
subscription's `whsec_...` secret. While a rotated secret's grace period lasts,
the header carries one signature per secret, space-separated, so receivers
verify with either. Any Standard Webhooks library verifies them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.clinics.event_schemas import PING
from app.clinics.models import EventType, PatientLink, WebhookSubscription
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.models import as_utc
from app.core.secrets import SecretBox
from app.core.state import StateKey
from app.outbox.models import DeliveryStatus, OutboxMessage

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix of every secret, not one)


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes them: `whsec_` and base64 of 24 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret, decoded exactly as Standard Webhooks libraries do."""
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(body + "==")
    except (binascii.Error, ValueError):
        # A secret made before signatures followed the standard: its own bytes, as then.
        return body.encode()


def signature(secrets_: Sequence[str], event_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, space-separated."""
    message = f"{event_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(signing_key(s), message, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


SECRET_BOX = StateKey[SecretBox]("webhook_secret_box")
WEBHOOK_SECRETS = "webhook-secrets"


def _forbidden_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local  # includes the 169.254.169.254 metadata service
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address `host` resolves to (an address literal is its own answer)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTargetError(f"The host '{host}' does not resolve.") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class UnsafeTargetError(InvalidInputError):
    """A webhook URL that would reach somewhere it must not (SSRF)."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_target(url: str, *, allow_private: bool) -> Address | None:
    """Refuse URLs that are not HTTPS or resolve to loopback, private or metadata addresses;
    return the address checked, which the delivery must then connect to.

    Checked when a subscription is made and again before every delivery, so a DNS
    change cannot turn an accepted host into an internal one later; and the delivery
    connects to the very address checked (not to a second lookup, which a rebinding
    DNS server could answer differently). With private targets allowed (local
    testing), nothing is resolved and None is returned.
    """
    try:
        # Splitting checks a bracketed host (`http://[0]` raises); reading the port checks it.
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError as exc:
        raise UnsafeTargetError(f"The webhook URL cannot be read: {exc}.") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeTargetError("The webhook URL must be an absolute https:// URL.")
    if parts.username or parts.password:
        raise UnsafeTargetError("The webhook URL must not carry credentials.")
    if allow_private:
        return None
    if parts.scheme != "https":
        raise UnsafeTargetError("The webhook URL must use https.")
    addresses = resolve_addresses(parts.hostname)
    for address in addresses:
        if _forbidden_address(address):
            raise UnsafeTargetError(
                "The webhook URL resolves to a loopback, private, link-local or reserved address."
            )
    return addresses[0]


def pinned_request(url: str, address: Address | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL to connect to, the Host header and the TLS name for `url` at `address`.

    The connection goes to the address literally; the Host header and the TLS server
    name (so the certificate is checked against the host) stay the URL's own.
    """
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    assert parts.hostname is not None
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return parts._replace(netloc=netloc).geturl(), {"Host": host}, {"sni_hostname": parts.hostname}


# ---------------------------------------------------------------------------
# Subscriptions


def create_subscription(
    session: Session,
    *,
    clinic_id: int,
    url: str,
    event_types: list[str],
    box: SecretBox,
    allow_private: bool,
    limit: int,
) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to `event_types`; the signing secret is returned once.

    A clinic holds at most `limit` subscriptions: each one is a delivery per event.
    """
    held = session.exec(
        select(func.count())
        .select_from(WebhookSubscription)
        .where(WebhookSubscription.clinic_id == clinic_id)
    ).one()
    if held >= limit:
        raise ConflictError(
            f"This clinic already has {held} webhook subscriptions, the most it may hold: "
            "delete one, or subscribe one URL to several event types."
        )
    try:
        check_target(url, allow_private=allow_private)
    except UnsafeTargetError as exc:
        raise InvalidInputError.for_field("body.url", exc.detail, "unsafe_url") from exc
    secret = new_secret()
    subscription = WebhookSubscription(
        clinic_id=clinic_id, url=url, secret_encrypted=box.seal(secret), event_types=event_types
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def subscriptions(session: Session, clinic_id: int) -> list[WebhookSubscription]:
    return list(
        session.exec(
            select(WebhookSubscription)
            .where(WebhookSubscription.clinic_id == clinic_id)
            .order_by(col(WebhookSubscription.id))
        )
    )


def subscription_of(session: Session, clinic_id: int, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.clinic_id != clinic_id:
        raise NotFoundError("No such webhook.")
    return subscription


def deliveries(
    session: Session, subscription_id: int, *, limit: int, offset: int
) -> tuple[list[OutboxMessage], int]:
    base = select(OutboxMessage).where(OutboxMessage.subscription_id == subscription_id)
    total = session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.subscription_id == subscription_id)
    ).one()
    rows = session.exec(
        base.order_by(col(OutboxMessage.id).desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def redeliver(
    session: Session, *, subscription_id: int, delivery_id: int, now: datetime
) -> OutboxMessage:
    """Send a delivery again (the same event id, so receivers can drop a duplicate).

    Refused for a delivery cancelled by a withdrawal, and for any delivery about a patient
    who no longer consents to the clinic (except the news of the withdrawal itself).
    """
    delivery = session.get(OutboxMessage, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFoundError("No such delivery.")
    subscription = session.get(WebhookSubscription, subscription_id)
    assert subscription is not None
    about = delivery.user_id
    withdrawn = about is not None and not consents(session, about, subscription.clinic_id)
    if delivery.status == DeliveryStatus.CANCELLED or (
        withdrawn and delivery.event_type != EventType.LINK_REVOKED
    ):
        raise ConflictError(
            "This delivery is about a patient who withdrew consent: it is not sent again."
        )
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.locked_until = None
    delivery.attempts = 0
    session.add(delivery)
    session.flush()
    return delivery


def consents(session: Session, patient_id: int, clinic_id: int) -> bool:
    """Whether the patient's link to the clinic is live."""
    live = session.exec(
        select(PatientLink.id).where(
            PatientLink.clinic_id == clinic_id,
            PatientLink.patient_id == patient_id,
            col(PatientLink.revoked_at).is_(None),
        )
    ).first()
    return live is not None


# ---------------------------------------------------------------------------
# Keeping a subscription: edit, rotate its secret, ping it


def signing_secrets(subscription: WebhookSubscription, box: SecretBox, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the one it replaced
    while its grace period lasts. Raises InvalidToken for a secret sealed under another key."""
    found = [box.open(subscription.secret_encrypted)]
    previous, until = (
        subscription.previous_secret_encrypted,
        subscription.previous_secret_expires_at,
    )
    if previous is not None and until is not None and as_utc(until) > now:
        found.append(box.open(previous))
    return found


def rotate_secret(
    session: Session,
    subscription: WebhookSubscription,
    *,
    box: SecretBox,
    grace: timedelta,
    now: datetime,
) -> str:
    """A new signing secret, returned once; the old one still signs for `grace`."""
    secret = new_secret()
    subscription.previous_secret_encrypted = subscription.secret_encrypted
    subscription.previous_secret_expires_at = now + grace
    subscription.secret_encrypted = box.seal(secret)
    session.add(subscription)
    session.flush()
    return secret


def update_subscription(
    session: Session,
    subscription: WebhookSubscription,
    *,
    url: str | None,
    event_types: list[str] | None,
    active: bool | None,
    allow_private: bool,
) -> WebhookSubscription:
    """Change what a subscription receives and where; what is queued already stays owed."""
    if url is not None:
        try:
            check_target(url, allow_private=allow_private)
        except UnsafeTargetError as exc:
            raise InvalidInputError.for_field("body.url", exc.detail, "unsafe_url") from exc
        subscription.url = url
    if event_types is not None:
        subscription.event_types = event_types
    if active is not None:
        subscription.active = active
    session.add(subscription)
    session.flush()
    return subscription


def ping(session: Session, subscription: WebhookSubscription, *, now: datetime) -> OutboxMessage:
    """Queue a `webhook.ping` for this subscription alone: a test of the receiver."""
    event_id = str(uuid.uuid4())
    delivery = OutboxMessage(
        subscription_id=subscription.id,
        clinic_id=subscription.clinic_id,
        event_id=event_id,
        event_type=PING,
        payload={
            "id": event_id,
            "type": PING,
            "created_at": now.isoformat(),
            "clinic_id": subscription.clinic_id,
            "data": {},
        },
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery
