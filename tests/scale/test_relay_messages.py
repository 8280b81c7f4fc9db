"""The relay's messages and the hub's two kinds of reactor, without any bus."""

from __future__ import annotations

from collections.abc import Sequence

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
