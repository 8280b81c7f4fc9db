"""The relay's messages and the hub's two kinds of reactor, without any bus."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from app.core.changes import CONTENT_CHANGED, Change, ChangeHub, PrincipalChanged, StandingChanged
from app.core.relay import ChangeRelay, decode, encode

CHANGES: list[Change] = [
    CONTENT_CHANGED,
    StandingChanged(user_id=7),
    PrincipalChanged(user_id=8),
    PrincipalChanged(client_id=9),
]


def test_a_message_carries_its_sender_and_changes() -> None:
    assert decode(encode("here", CHANGES)) == ("here", CHANGES)


def test_changes_heard_from_elsewhere_reach_the_caches_but_are_not_sent_back() -> None:
    hub = ChangeHub()
    caches: list[Sequence[Change]] = []
    sent: list[Sequence[Change]] = []
    hub.subscribe(caches.append)
    hub.subscribe(sent.append, here_only=True)
    relay = ChangeRelay(hub, None)

    relay.deliver(encode("another instance", CHANGES))
    relay.deliver(encode(hub.origin, [CONTENT_CHANGED]))  # its own message, back from the bus
    relay.deliver("not json")
    relay.deliver('{"origin": "x", "changes": [["bogus"]]}')

    assert caches == [CHANGES]
    assert sent == []
    hub.publish([CONTENT_CHANGED])
    assert sent == [[CONTENT_CHANGED]]


class FlakyBus:
    """Fails on its first subscription (Redis restarting), then delivers one message."""

    name = "flaky"

    def __init__(self, payload: str) -> None:
        self.payload = payload
        self.subscriptions = 0
        self.published: list[str] = []

    def publish(self, payload: str) -> None:
        self.published.append(payload)

    def listen(self, deliver: Callable[[str], None], stop: threading.Event) -> None:
        self.subscriptions += 1
        if self.subscriptions == 1:
            raise ConnectionError("the bus is restarting")
        deliver("")
        deliver(self.payload)
        stop.wait(10)

    def close(self) -> None:
        pass


def test_the_relay_subscribes_again_after_the_bus_failed() -> None:
    hub = ChangeHub()
    heard = threading.Event()
    hub.subscribe(lambda changes: heard.set())
    bus = FlakyBus(encode("another instance", [CONTENT_CHANGED]))
    relay = ChangeRelay(hub, bus)
    relay.start()
    try:
        assert heard.wait(10)  # after one retry (0.5 s)
        assert bus.subscriptions == 2
        hub.publish([StandingChanged(user_id=1)])  # this process's commit goes out
        deadline = time.monotonic() + 10
        while not bus.published:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert decode(bus.published[0]) == (hub.origin, [StandingChanged(user_id=1)])
    finally:
        relay.stop()
