"""After the relay loses its bus, the messages sent meanwhile are gone: once it subscribes
again, every cache starts over. Its first subscription, with nothing lost, empties nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from app.core.changes import (
    ANYTHING_CHANGED,
    CONTENT_CHANGED,
    CacheReactor,
    Change,
    ChangeHub,
    StandingChanged,
)
from app.core.db import Database
from app.core.relay import ChangeRelay, decode, encode
from app.identity.models import User
from tests.conftest import Person

WAIT_SECONDS = 10.0


class ScriptedBus:
    """Each subscription follows the next step: "down" fails before subscribing (the bus is
    not there), "up" subscribes and fails once `cut` is set (the bus restarted)."""

    name = "scripted"

    def __init__(self, *steps: str) -> None:
        self.steps = list(steps)
        self.cut = threading.Event()
        self.subscribed = threading.Semaphore(0)

    def publish(self, payload: str) -> None:
        pass

    def listen(self, deliver: Callable[[str], None], stop: threading.Event) -> None:
        step = self.steps.pop(0) if self.steps else "up"
        if step == "down":
            raise ConnectionError("the bus is not there")
        deliver("")
        self.subscribed.release()
        while not stop.is_set():
            if self.cut.wait(0.01):
                self.cut.clear()
                raise ConnectionError("the bus restarted")

    def close(self) -> None:
        pass


class Heard:
    def __init__(self, hub: ChangeHub) -> None:
        self.batches: list[Sequence[Change]] = []
        hub.subscribe(self.batches.append)

    def forgets(self) -> int:
        return sum(batch == [ANYTHING_CHANGED] for batch in self.batches)


def running(bus: ScriptedBus) -> tuple[ChangeRelay, Heard]:
    hub = ChangeHub()
    heard = Heard(hub)
    relay = ChangeRelay(hub, bus)
    relay.start()
    return relay, heard


def test_the_first_subscription_forgets_nothing() -> None:
    bus = ScriptedBus("up")
    relay, heard = running(bus)
    try:
        assert bus.subscribed.acquire(timeout=WAIT_SECONDS)
        assert relay.listening.wait(WAIT_SECONDS)
        time.sleep(0.1)
        assert heard.forgets() == 0
    finally:
        relay.stop()


def test_subscribing_again_after_the_bus_failed_forgets_everything_once() -> None:
    bus = ScriptedBus("up", "up")
    relay, heard = running(bus)
    try:
        assert bus.subscribed.acquire(timeout=WAIT_SECONDS)
        bus.cut.set()
        assert bus.subscribed.acquire(timeout=WAIT_SECONDS)  # after one retry (0.5 s)
        assert relay.listening.wait(WAIT_SECONDS)
        time.sleep(0.1)
        assert heard.forgets() == 1
    finally:
        relay.stop()


def test_a_bus_that_was_down_at_start_forgets_what_was_cached_meanwhile() -> None:
    bus = ScriptedBus("down", "up")
    relay, heard = running(bus)
    try:
        assert bus.subscribed.acquire(timeout=WAIT_SECONDS)
        assert relay.listening.wait(WAIT_SECONDS)
        time.sleep(0.1)
        assert heard.forgets() == 1
    finally:
        relay.stop()


class Cache:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def forget_owner(self, owner: object) -> None:
        self.calls.append(f"forget {owner}")

    def invalidate(self) -> None:
        self.calls.append("invalidate")


def test_anything_changed_empties_every_cache_once() -> None:
    catalog, viewers, tokens = Cache(), Cache(), Cache()
    reactor = CacheReactor(content=(catalog, viewers), standing=(viewers,), principals=(tokens,))
    reactor.react([ANYTHING_CHANGED])
    assert [catalog.calls, viewers.calls, tokens.calls] == [["invalidate"]] * 3
    reactor.react([StandingChanged(user_id=3)])
    assert viewers.calls == ["invalidate", "forget user:3"]


def test_anything_changed_travels_in_a_message() -> None:
    changes: list[Change] = [ANYTHING_CHANGED, CONTENT_CHANGED]
    assert decode(encode("here", changes)) == ("here", changes)


def test_anything_changed_makes_a_remembered_token_go_to_the_database_again(
    remembering_client: TestClient, member: Person, database: Database
) -> None:
    client = remembering_client
    assert client.get("/v1/me", headers=member.headers).status_code == 200
    with database.engine.begin() as connection:  # another instance's, its message lost
        connection.execute(update(User).where(col(User.id) == member.id).values(disabled=True))
    assert client.get("/v1/me", headers=member.headers).status_code == 200  # remembered
    database.changes.publish([ANYTHING_CHANGED], elsewhere=True)
    assert client.get("/v1/me", headers=member.headers).status_code == 401
