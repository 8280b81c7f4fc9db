"""Committed changes told to every instance, and a poll as the safety net.

Each process's `ChangeHub` hears of its own commits only. With several instances
behind a load balancer (or `uvicorn --workers 2`), instance B kept serving what
instance A had just changed: the catalogue until B happened to poll, a signed-out
token for up to `VIEWER_CACHE_SECONDS`. The relay closes that gap:

- it sends every batch this process commits to a bus (Redis pub/sub when
  `REDIS_URL` is set, else PostgreSQL `LISTEN/NOTIFY`; on SQLite there is no bus),
  from a thread of its own, so a slow or absent bus never holds up a request;
- it hands every batch another process sent to this process's hub, marked as
  committed elsewhere, so the one reactor forgets what depended on it;
- when it subscribes after the bus failed (Redis or PostgreSQL restarted, the network
  cut, or the bus was down when this process started), what the others sent meanwhile
  is gone for good, so it publishes `AnythingChanged` and the reactor empties every
  cache; a first subscription that nothing failed before does not;
- every `CONTENT_POLL_SECONDS` it asks whether the content in hand is behind the
  database's version, and a version that moved behind its back (a message lost
  while the bus was down, `rehab import` from a shell) is published as a content
  change: an idle instance is never more than one poll behind, and its first
  request after that is fresh.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from app.core.changes import (
    ANYTHING_CHANGED,
    CONTENT_CHANGED,
    AnythingChanged,
    Change,
    ChangeHub,
    ContentChanged,
    PrincipalChanged,
    StandingChanged,
)
from app.core.logs import SparseWarnings

logger = logging.getLogger("app.relay")

CHANNEL = "rehab_changes"
LISTEN_TICK_SECONDS = 0.5  # how often a waiting thread looks up to see whether to stop
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # waits between reconnections to a bus that failed
CHANGES_PER_MESSAGE = 100  # keeps a message well under PostgreSQL's 8000-byte NOTIFY limit
QUEUE_LIMIT = 10_000  # batches waiting to be sent; past it they are dropped (and logged)

Behind = Callable[[], bool]  # whether the content in hand is older than the database's


class Bus(Protocol):
    """Where instances tell each other: one channel, text messages."""

    name: str

    def publish(self, payload: str) -> None: ...

    def listen(self, deliver: Callable[[str], None], stop: threading.Event) -> None:
        """Deliver each message until `stop` is set; raises when the bus fails."""
        ...

    def close(self) -> None: ...


def encode(origin: str, changes: Sequence[Change]) -> str:
    items: list[list[object]] = []
    for change in changes:
        if isinstance(change, ContentChanged):
            items.append(["content"])
        elif isinstance(change, AnythingChanged):
            items.append(["anything"])
        elif isinstance(change, StandingChanged):
            items.append(["standing", change.user_id])
        else:
            items.append(["principal", change.user_id, change.client_id])
    return json.dumps({"origin": origin, "changes": items}, separators=(",", ":"))


def decode(payload: str) -> tuple[str, list[Change]]:
    """The sender and the changes of a message; anything malformed raises ValueError."""
    try:
        document = json.loads(payload)
        changes: list[Change] = []
        for item in document["changes"]:
            kind = item[0]
            if kind == "content":
                changes.append(CONTENT_CHANGED)
            elif kind == "anything":
                changes.append(ANYTHING_CHANGED)
            elif kind == "standing":
                changes.append(StandingChanged(user_id=int(item[1])))
            elif kind == "principal":
                user_id, client_id = item[1], item[2]
                changes.append(
                    PrincipalChanged(
                        user_id=None if user_id is None else int(user_id),
                        client_id=None if client_id is None else int(client_id),
                    )
                )
            else:
                raise ValueError(f"unknown change {kind!r}")
        return str(document["origin"]), changes
    except (KeyError, IndexError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("not a change message") from exc


class ChangeRelay:
    """Tells other instances of this process's commits, hears theirs, and polls the content."""

    def __init__(
        self,
        hub: ChangeHub,
        bus: Bus | None,
        *,
        behind: Behind | None = None,
        poll_seconds: float = 0,
    ) -> None:
        self._hub = hub
        self._bus = bus
        self._behind = behind
        self._poll_seconds = poll_seconds
        self._outbox: queue.Queue[Sequence[Change]] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Callable[[], None] | None = None
        # One line a minute per kind of failure.
        self._warnings = SparseWarnings(logger, every_seconds=60)
        self._missed = False  # the bus failed since it last subscribed (hearing thread only)
        self.listening = threading.Event()  # set while the bus delivers (tests wait for it)

    @property
    def bus_name(self) -> str | None:
        return None if self._bus is None else self._bus.name

    def start(self) -> None:
        targets: list[tuple[str, Callable[[], None]]] = []
        if self._bus is not None:
            self._unsubscribe = self._hub.subscribe(self._enqueue, here_only=True)
            targets += [("change-relay-send", self._send_loop), ("change-relay-hear", self._hear)]
        if self._behind is not None and self._poll_seconds > 0:
            targets.append(("content-poll", self._poll_loop))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_seconds: float = 5.0) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        deadline = time.monotonic() + timeout_seconds
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._bus is not None:
            self._bus.close()

    def _enqueue(self, changes: Sequence[Change]) -> None:
        try:
            self._outbox.put_nowait(changes)
        except queue.Full:  # the others find out by polling (content) or by expiry (tokens)
            self._warn("queue", "Too many changes waiting for the relay; some were not sent")

    def _send_loop(self) -> None:
        assert self._bus is not None
        while not self._stop.is_set():
            try:
                first = self._outbox.get(timeout=LISTEN_TICK_SECONDS)
            except queue.Empty:
                continue
            pending: dict[Change, None] = dict.fromkeys(first)
            while True:  # whatever else is waiting goes in the same messages
                try:
                    pending.update(dict.fromkeys(self._outbox.get_nowait()))
                except queue.Empty:
                    break
            changes = list(pending)
            for start in range(0, len(changes), CHANGES_PER_MESSAGE):
                chunk = changes[start : start + CHANGES_PER_MESSAGE]
                try:
                    self._bus.publish(encode(self._hub.origin, chunk))
                except Exception as exc:
                    self._warn("send", f"Could not tell other instances of changes ({exc!r})")

    def _hear(self) -> None:
        assert self._bus is not None
        failures = 0
        while not self._stop.is_set():
            try:
                self._bus.listen(self._deliver_marking_up, self._stop)
            except Exception as exc:
                self.listening.clear()
                self._missed = True
                self._warn("listen", f"The {self._bus.name} relay failed ({exc!r}); retrying")
                self._stop.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
                continue
            failures = 0

    def _deliver_marking_up(self, payload: str) -> None:
        if payload:
            self.deliver(payload)
            return
        # Subscribed. After a failure, the messages sent while this process was not listening
        # are lost, so anything may have changed. Forgetting once subscribed leaves no gap:
        # a change committed from now on arrives as a message.
        if self._missed:
            self._missed = False
            assert self._bus is not None
            logger.info("The %s relay is back; every cache starts over", self._bus.name)
            self._hub.publish([ANYTHING_CHANGED], elsewhere=True)
        self.listening.set()

    def deliver(self, payload: str) -> None:
        """Hand a message from the bus to this process's hub (unless it sent it)."""
        try:
            origin, changes = decode(payload)
        except ValueError:
            self._warn("decode", "Ignored a malformed message on the change relay")
            return
        if origin != self._hub.origin:
            self._hub.publish(changes, elsewhere=True)

    def _poll_loop(self) -> None:
        assert self._behind is not None
        while not self._stop.wait(self._poll_seconds):
            try:
                behind = self._behind()
            except Exception as exc:
                self._warn("poll", f"Could not read the content version ({exc!r})")
                continue
            if behind:
                self._hub.publish([CONTENT_CHANGED], elsewhere=True)

    def _warn(self, what: str, message: str) -> None:
        self._warnings.warn(what, message)


def send_commits(hub: ChangeHub, bus: Bus) -> Callable[[], None]:
    """For a short-lived process (the `rehab` command): tell the instances of each commit
    before going on, so a change made from a shell (an account disabled, an import) takes
    effect everywhere at once. A bus that fails is logged; polling and expiry remain."""

    def send(changes: Sequence[Change]) -> None:
        for start in range(0, len(changes), CHANGES_PER_MESSAGE):
            try:
                bus.publish(encode(hub.origin, changes[start : start + CHANGES_PER_MESSAGE]))
            except Exception as exc:
                logger.warning("Could not tell the instances of changes (%r)", exc)
                return

    return hub.subscribe(send, here_only=True)
