"""Two app instances on one PostgreSQL database, each with its own engine and hub, as two
servers behind a load balancer are: only the relay (or the poll) tells one of the other."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from app.access.policy import Role
from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.config import Environment, Settings
from app.core.db import Database
from app.core.migrations import upgrade_to_head
from app.core.models import utcnow
from app.identity.schemas import RegisterIn
from app.identity.service import register
from app.main import CHANGE_RELAY, create_app
from tests.conftest import TEST_SECRET, Person, sign_in
from tests.factories import condition, exercise, program

PROGRAM = "relay-plan"
PASSWORD = "a sturdy passphrase 42"


def bundle(title: str = "Alpha Move") -> ContentBundle:
    plan = program(PROGRAM, ["relay-hip"], [["alpha-move"], ["beta-move"]])
    plan["stages"][0]["rule"] = {"min_days": 0, "min_sessions": 1, "all_exercises_easy": False}
    return ContentBundle.model_validate(
        {
            "conditions": [condition("relay-hip")],
            "exercises": [exercise("alpha-move", name=title), exercise("beta-move")],
            "programs": [plan],
        }
    )


def instance_settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.TEST,
        "database_url": url,
        "data_dir": data_dir,
        "secret_key": TEST_SECRET,
        "webhook_worker": False,
        "mfa_required_for_staff": False,
        "access_log": False,
        # Long enough that nothing below passes by expiry or polling unless a test says so.
        "viewer_cache_seconds": 30,
        "content_poll_seconds": 3600,
    }
    return Settings.model_validate(values | overrides)


def register_verified(database: Database, email: str, role: Role = Role.MEMBER) -> int:
    """An account with a verified address, made straight in the database (no mail to
    read), with the shared PASSWORD; its id."""
    with database.write_session() as session:
        user = register(
            session, RegisterIn(email=email, password=PASSWORD, display_name="P"), role=role
        )
        user.email_verified_at = utcnow()
        assert user.id is not None
        return user.id


@dataclass
class Instance:
    client: TestClient
    database: Database

    def person(self, email: str, role: Role = Role.MEMBER) -> Person:
        user_id = register_verified(self.database, email, role)
        tokens = sign_in(self.client, email, PASSWORD)
        return Person(user_id, email, PASSWORD, tokens["access_token"], tokens["refresh_token"])


@contextmanager
def two_instances(settings: Settings) -> Iterator[tuple[Instance, Instance]]:
    """Migrate and seed `settings`' database, then serve it from two instances."""
    upgrade_to_head(settings)
    with ExitStack() as stack:
        instances = []
        for _ in range(2):
            database = Database.from_settings(settings)
            stack.callback(database.dispose)
            app = create_app(settings, database=database)
            client = stack.enter_context(TestClient(app))
            relay = CHANGE_RELAY.of_app(app)
            if relay.bus_name is not None:
                assert relay.listening.wait(10), "the relay did not subscribe"
            instances.append(Instance(client, database))
        with instances[0].database.write_session() as session:
            apply_content(session, bundle())
        yield instances[0], instances[1]


def window(check: Callable[[], bool], *, deadline_seconds: float = 5.0) -> float:
    """Seconds until `check()` holds, polling; fails past the deadline."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < deadline_seconds, f"still not seen after {elapsed:.2f} s"
        time.sleep(0.002)
    return time.monotonic() - start
