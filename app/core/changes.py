"""What a committed write changed, and the one place that reacts to it.

Services record what they change as they change it: the content, a person's
standing (stages, sessions, programs, the clinics they work in), or a principal
(an account or sign-in, an API client). The record lives on the unit of work
(the SQLAlchemy session). Once its transaction commits, `Database` hands the
changes to its `ChangeHub`, which calls every reactor subscribed to it: this
process's caches, and the relay that tells other instances. A rolled-back
transaction changed nothing and reports nothing. Routes never invalidate a cache
by hand, so a new write route cannot forget to.
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session

logger = logging.getLogger("app.changes")
_KEY = "recorded_changes"


@dataclass(frozen=True, slots=True)
class ContentChanged:
    """The catalogue changed (a content version was bumped)."""


@dataclass(frozen=True, slots=True)
class StandingChanged:
    """Where a person stands changed: their stages, sessions, programs or clinics."""

    user_id: int


@dataclass(frozen=True, slots=True)
class PrincipalChanged:
    """Who may call changed: an account (role, profile, disabled, sign-ins) or an API client."""

    user_id: int | None = None
    client_id: int | None = None


@dataclass(frozen=True, slots=True)
class AnythingChanged:
    """Anything may have changed: this process missed what others committed for a while
    (its relay lost the bus, and messages sent meanwhile are gone), so every cache starts
    over."""


Change = ContentChanged | StandingChanged | PrincipalChanged | AnythingChanged
CONTENT_CHANGED = ContentChanged()
ANYTHING_CHANGED = AnythingChanged()


def record(session: Session, *changes: Change) -> None:
    """Note `changes` on the unit of work; they are published once it commits."""
    recorded: dict[Change, None] = session.info.setdefault(_KEY, {})
    for change in changes:
        recorded[change] = None


def take(session: Session) -> list[Change]:
    """The changes recorded on `session` so far, forgotten there."""
    recorded: dict[Change, None] = session.info.pop(_KEY, {})
    return list(recorded)


Reactor = Callable[[Sequence[Change]], None]


class ChangeHub:
    """Hands committed changes to every subscriber, in the thread that committed.

    Subscribers are held weakly when they are bound methods, so an application
    that is gone (tests build many over one database) stops hearing of changes
    without having to say so.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reactors: list[Callable[[], Reactor | None]] = []
        # Reactors that hear only of changes committed by this process (the relay that
        # tells other instances): a change heard from elsewhere is not told back.
        self._here_only: set[int] = set()
        # Names this process on the relay, so it can skip its own messages.
        self.origin = uuid.uuid4().hex

    def subscribe(self, reactor: Reactor, *, here_only: bool = False) -> Callable[[], None]:
        """Call `reactor` with each committed batch of changes; returns an unsubscribe.

        `here_only` reactors hear of this process's commits, not of changes relayed from
        other instances.
        """
        ref: Callable[[], Reactor | None]
        try:
            ref = weakref.WeakMethod(reactor)
        except TypeError:  # a plain function: held strongly
            ref = _Strong(reactor)
        with self._lock:
            self._reactors.append(ref)
            if here_only:
                self._here_only.add(id(ref))

        def unsubscribe() -> None:
            with self._lock:
                if ref in self._reactors:
                    self._reactors.remove(ref)
                self._here_only.discard(id(ref))

        return unsubscribe

    def publish(self, changes: Iterable[Change], *, elsewhere: bool = False) -> None:
        """Hand `changes` to every reactor; `elsewhere` when another process committed them."""
        batch = list(changes)
        if not batch:
            return
        with self._lock:
            live = [(ref, ref()) for ref in self._reactors]
            self._reactors = [ref for ref, reactor in live if reactor is not None]
            self._here_only &= {id(ref) for ref in self._reactors}
            skipped = self._here_only if elsewhere else set()
        for ref, reactor in live:
            if reactor is None or id(ref) in skipped:
                continue
            try:
                reactor(batch)
            except Exception:  # one reactor's failure must not stop the others
                logger.exception("Reacting to committed changes failed")


@dataclass(frozen=True, slots=True)
class _Strong:
    reactor: Reactor

    def __call__(self) -> Reactor:
        return self.reactor


class ForgetsPeople(Protocol):
    def forget_owner(self, owner: object) -> None: ...

    def invalidate(self) -> None: ...


class ForgetsContent(Protocol):
    def invalidate(self) -> None: ...


@dataclass(frozen=True, slots=True, weakref_slot=True)
class CacheReactor:
    """Turns committed changes into this process's cache invalidations, in one place.

    `content` is the catalogue snapshot; `standing` the caches of what a person may
    see (viewers, progress reports); `principals` the caches of who a token is.
    `AnythingChanged` empties them all.
    """

    content: Sequence[ForgetsContent]
    standing: Sequence[ForgetsPeople]
    principals: Sequence[ForgetsPeople]

    def react(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if isinstance(change, AnythingChanged):
                self.forget_everything()
            elif isinstance(change, ContentChanged):
                for cache in self.content:
                    cache.invalidate()
            elif isinstance(change, StandingChanged):
                self._forget(self.standing, user_owner(change.user_id))
            elif change.client_id is not None:
                self._forget(self.principals, client_owner(change.client_id))
            elif change.user_id is not None:
                # Who a token is decides what it may see, so both forget the person.
                self._forget((*self.principals, *self.standing), user_owner(change.user_id))

    def forget_everything(self) -> None:
        """Empty every cache: the next read of anything goes to the database."""
        caches = {id(cache): cache for cache in (*self.content, *self.standing, *self.principals)}
        for cache in caches.values():
            cache.invalidate()

    @staticmethod
    def _forget(caches: Iterable[ForgetsPeople], owner: str) -> None:
        for cache in caches:
            cache.forget_owner(owner)


def user_owner(user_id: int) -> str:
    """The key caches file a person's entries under."""
    return f"user:{user_id}"


def client_owner(client_id: int) -> str:
    """The key caches file an API client's entries under."""
    return f"client:{client_id}"
