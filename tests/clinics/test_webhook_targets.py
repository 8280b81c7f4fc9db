"""Where a delivery connects: the very address that was checked, not a second lookup.

A hostile DNS server can answer a public address to the check and a private one to
the connection a moment later (DNS rebinding). The sender resolves once, checks that
address, and connects to it literally, keeping the host's name for the Host header
and for the TLS certificate check.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from app.clinics.delivery import WebhookSender
from app.clinics.models import Clinic, WebhookSubscription
from app.clinics.webhooks import UnsafeTargetError, check_target, pinned_request
from app.core.db import Database
from app.core.secrets import SecretBox
from app.outbox.models import Channel, OutboxMessage
from app.outbox.worker import OutboxWorker, RetryPolicy

PUBLIC = "93.184.216.34"
BOX = SecretBox(b"k" * 32, purpose="webhook-secrets")


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """hooks.example.com resolves to a public address once, then to loopback."""
    asked: list[str] = []

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        answer = PUBLIC if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_the_check_returns_the_address_the_connection_must_use(rebinding_dns: list[str]) -> None:
    address = check_target("https://hooks.example.com/rehab", allow_private=False)
    assert str(address) == PUBLIC
    url, host, extensions = pinned_request("https://hooks.example.com:8443/rehab?x=1", address)
    assert url == f"https://{PUBLIC}:8443/rehab?x=1"
    assert host == {"Host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}
    with pytest.raises(UnsafeTargetError):  # the second answer is loopback: refused
        check_target("https://hooks.example.com/rehab", allow_private=False)


def test_a_delivery_connects_to_the_checked_address_whatever_dns_says_next(
    database: Database, rebinding_dns: list[str]
) -> None:
    seen: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with database.write_session() as session:
        clinic = Clinic(name="Rebound")
        session.add(clinic)
        session.flush()
        assert clinic.id is not None
        subscription = WebhookSubscription(
            clinic_id=clinic.id,
            url="https://hooks.example.com/rehab",
            secret_encrypted=BOX.seal("whsec_dGVzdA=="),
            event_types=["session.logged"],
        )
        session.add(subscription)
        session.flush()
        session.add(
            OutboxMessage(
                subscription_id=subscription.id,
                event_id="00000000-0000-0000-0000-000000000001",
                event_type="session.logged",
                payload={"n": 1},
            )
        )
    client = httpx.Client(transport=httpx.MockTransport(transport))
    sender = WebhookSender(database, BOX, timeout_seconds=5, allow_private=False, client=client)
    worker = OutboxWorker(database, {Channel.WEBHOOK: sender}, RetryPolicy(3, 30))

    assert worker.run_once() == 1
    [request] = seen
    assert request.url.host == PUBLIC
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert rebinding_dns == ["hooks.example.com"]  # one lookup, the one checked
