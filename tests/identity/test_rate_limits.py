"""Sign-in and registration are rate-limited per address and per account from one address
(429 + Retry-After); nobody can lock another person out.

Each test builds its own app with tight limits. With TEST_REDIS_URL set, the
limits are also checked on Redis, where two app instances share the counters.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlmodel import select

from app.core.config import Settings
from app.core.db import Database
from app.identity.models import User
from app.identity.schemas import RegisterIn
from app.identity.service import register
from app.main import OUTBOX_WORKER, create_app
from tests.mailbox import Mailbox

TOKEN = "/v1/auth/token"
PASSWORD = "a sturdy passphrase 42"
WRONG = "not the password at all"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set")


@contextmanager
def limited_client(
    settings: Settings,
    database: Database,
    *,
    address: str = "testclient",
    **limits: Any,
) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update=limits), database=database)
    with TestClient(app, client=(address, 50000)) as client:
        yield client


def create_account(database: Database, email: str) -> None:
    with database.write_session() as session:
        register(session, RegisterIn(email=email, password=PASSWORD, display_name="Someone"))


def login(client: TestClient, email: str, password: str) -> Response:
    return client.post(
        TOKEN, data={"grant_type": "password", "username": email, "password": password}
    )


def sign_up(client: TestClient, email: str) -> Response:
    return client.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "New"}
    )


def assert_rate_limited(response: Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 429
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 60


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex}@example.com"


def unique_address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


# ---------------------------------------------------------------------------
# Per account


def check_per_account_limit(client: TestClient, database: Database, alice: str, bob: str) -> None:
    create_account(database, alice)
    create_account(database, bob)
    for _ in range(3):
        assert login(client, alice, WRONG).status_code == 400
    # The 4th attempt from this address is refused before the password is even looked at.
    assert_rate_limited(login(client, alice, PASSWORD))
    # Another account from the same address still gets through.
    assert login(client, bob, PASSWORD).status_code == 200


def test_the_fourth_login_for_one_account_from_one_address_is_429_even_with_the_right_password(
    settings: Settings, database: Database
) -> None:
    with limited_client(
        settings,
        database,
        login_rate_per_account_and_address="3/minute",
        login_rate_per_address="100/minute",
    ) as client:
        check_per_account_limit(client, database, "alice@example.com", "bob@example.com")


def test_the_account_limit_ignores_case_and_spaces_in_the_email(
    settings: Settings, database: Database
) -> None:
    create_account(database, "alice@example.com")
    with limited_client(
        settings,
        database,
        login_rate_per_account_and_address="3/minute",
        login_rate_per_address="100/minute",
    ) as client:
        for variant in ("alice@example.com", "ALICE@example.com", " Alice@Example.com "):
            assert login(client, variant, WRONG).status_code == 400
        assert_rate_limited(login(client, "alice@example.com", PASSWORD))


def test_nobody_can_lock_another_person_out(settings: Settings, database: Database) -> None:
    """Five wrong passwords for someone else's email used to earn the owner a 429 with the
    right password, renewable forever. Now only the guesser's own address is refused."""
    create_account(database, "alice@example.com")
    with limited_client(
        settings,
        database,
        address="198.51.100.66",
        login_rate_per_account_and_address="5/minute",
        login_rate_per_address="100/minute",
    ) as attacker:
        for _ in range(5):
            assert login(attacker, "alice@example.com", WRONG).status_code == 400
        assert_rate_limited(login(attacker, "alice@example.com", WRONG))
        owner = TestClient(attacker.app, client=("192.0.2.7", 50000))
        assert login(owner, "alice@example.com", PASSWORD).status_code == 200


def test_an_account_under_siege_is_slowed_down_logged_and_its_owner_told(
    settings: Settings,
    database: Database,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    create_account(database, "alice@example.com")
    with limited_client(
        settings,
        database,
        login_rate_per_account_and_address="100/minute",
        login_rate_per_address="100/minute",
        login_failures_per_account="3/hour",
        login_slowdown_seconds=0.5,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
    ) as client:
        for n in range(6):  # from six addresses: no single one is over its allowance
            guesser = TestClient(client.app, client=(f"203.0.113.{n}", 50000))
            assert login(guesser, "alice@example.com", WRONG).status_code == 400
        started = time.monotonic()
        owner = TestClient(client.app, client=("192.0.2.7", 50000))
        assert login(owner, "alice@example.com", PASSWORD).status_code == 200
        assert time.monotonic() - started >= 0.5  # slower, but in
        OUTBOX_WORKER.of_app(client.app).run_once()
    [told] = mailbox.to("alice@example.com")  # once, however many failures followed
    assert told["Subject"].startswith("Many failed sign-ins")
    assert any(r.name == "app.security" for r in caplog.records)


# ---------------------------------------------------------------------------
# Per address


def test_the_fourth_login_from_one_address_is_429_across_different_emails(
    settings: Settings, database: Database
) -> None:
    create_account(database, "dana@example.com")
    with limited_client(
        settings,
        database,
        login_rate_per_account_and_address="100/minute",
        login_rate_per_address="3/minute",
    ) as client:
        for name in ("ann", "ben", "cat"):
            assert login(client, f"{name}@example.com", WRONG).status_code == 400
        assert_rate_limited(login(client, "dana@example.com", PASSWORD))
        # Another address is not held back by this one's attempts.
        elsewhere = TestClient(client.app, client=("192.0.2.7", 50000))
        assert login(elsewhere, "dana@example.com", PASSWORD).status_code == 200


def test_the_fourth_registration_from_one_address_is_429_and_creates_nothing(
    settings: Settings, database: Database
) -> None:
    with limited_client(settings, database, register_rate_per_address="3/minute") as client:
        for name in ("ann", "ben", "cat"):
            assert sign_up(client, f"{name}@example.com").status_code == 201
        assert_rate_limited(sign_up(client, "dana@example.com"))
        with database.read_session() as session:
            dana = session.exec(select(User).where(User.email == "dana@example.com")).first()
        assert dana is None
        elsewhere = TestClient(client.app, client=("192.0.2.7", 50000))
        assert sign_up(elsewhere, "eve@example.com").status_code == 201


# ---------------------------------------------------------------------------
# Redis: shared counters


@needs_redis
def test_the_per_account_limit_holds_on_redis(settings: Settings, database: Database) -> None:
    with limited_client(
        settings,
        database,
        address=unique_address(),
        redis_url=REDIS_URL,
        login_rate_per_account_and_address="3/minute",
        login_rate_per_address="100/minute",
    ) as client:
        check_per_account_limit(client, database, unique_email("alice"), unique_email("bob"))


@needs_redis
def test_two_app_instances_share_the_counters_on_redis(
    settings: Settings, database: Database
) -> None:
    email = unique_email("shared")
    address = unique_address()
    create_account(database, email)
    limits: dict[str, Any] = {
        "redis_url": REDIS_URL,
        "login_rate_per_account_and_address": "3/minute",
        "login_rate_per_address": "100/minute",
    }
    with (
        limited_client(settings, database, address=address, **limits) as first,
        limited_client(settings, database, address=address, **limits) as second,
    ):
        assert first.app is not second.app
        for _ in range(2):
            assert login(first, email, WRONG).status_code == 400
        assert login(second, email, WRONG).status_code == 400
        assert_rate_limited(login(second, email, PASSWORD))
        assert_rate_limited(login(first, email, PASSWORD))
