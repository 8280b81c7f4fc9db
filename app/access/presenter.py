"""Renders exercises for one viewer: the policy decides, this shapes the payload.

The locked shape is spliced from the teaser alone, so premium keys cannot
leak into it; the unlocked shape adds them and a signed, expiring video link.
Both are assembled from bytes serialised once per content version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

import orjson

from app.access.policy import (
    LOGIN_REQUIRED,
    Access,
    Locked,
    Placement,
    Unlocked,
    Viewer,
    decide,
    decide_standalone,
)
from app.core.media import MediaSigner


class Renderable(Protocol):
    """An exercise as the catalogue keeps it: its teaser and premium parts, serialised."""

    @property
    def teaser_json(self) -> bytes: ...
    @property
    def premium_json(self) -> bytes: ...
    @property
    def video_key(self) -> str | None: ...
    @property
    def placements(self) -> Sequence[Placement]: ...


class PlacedExercise(Protocol):
    """One exercise of a stage, with its place and dosage."""

    @property
    def position(self) -> int: ...
    @property
    def dosage(self) -> Mapping[str, Any]: ...
    @property
    def exercise(self) -> Renderable: ...
    @property
    def placement(self) -> Placement: ...


class RenderableStage(Protocol):
    @property
    def items(self) -> Sequence[PlacedExercise]: ...


class FragmentStore(Protocol):
    """Where rendered fragments are kept for as long as the content they came from."""

    @property
    def fragments(self) -> Mapping[Hashable, bytes]: ...
    def keep_fragment(self, key: Hashable, body: bytes) -> None: ...


LOCKED_HEAD = b'{"access":"locked",'
UNLOCKED_HEAD = b'{"access":"unlocked",'
EMPTY_LIST = orjson.Fragment(b"[]")


@lru_cache(maxsize=4096)  # the same few locks recur across exercises, requests and viewers
def lock_json(access: Locked) -> bytes:
    return orjson.dumps(
        {
            "reason": access.reason.value,
            "message": access.message,
            "unlock_hint": access.unlock_hint,
        }
    )


LOGIN_REQUIRED_JSON = lock_json(LOGIN_REQUIRED)
ANONYMOUS_TAG = "anon"


def viewer_tag(viewer: Viewer, link_expiry: int) -> str:
    """What a catalogue body depends on besides the content, as a short tag for its ETag.

    A signed-in body follows from the viewer's role, the stage reached in each
    program, what remains before the next (the hints), the clinics they work in,
    and when its links expire. Who they are is not part of it: two people who
    stand in the same place see the same bytes.
    """
    if viewer.is_anonymous:
        return ANONYMOUS_TAG
    state = (
        f"{viewer.role}|{sorted(viewer.current_stages.items())}|"
        f"{sorted(viewer.stage_hints.items())}|{sorted(viewer.clinic_ids)}|{link_expiry}"
    )
    return hashlib.blake2b(state.encode(), digest_size=8).hexdigest()


class ExercisePresenter:
    def __init__(self, viewer: Viewer, media: MediaSigner) -> None:
        self.viewer = viewer
        self._media = media
        # Every exercise of a stage shares its placement: decided once per stage.
        self._by_placement: dict[int, Access] = {}

    def link_expiry(self) -> int:
        """When the links this presenter signs expire: part of a personalised ETag."""
        return self._media.current_expiry()

    def stage_items(self, store: FragmentStore, stage: RenderableStage) -> orjson.Fragment:
        """A stage's exercises, with position and dosage, for this viewer.

        All exercises of a stage share one decision, so the list depends only on the
        stage, that decision and the links' expiry: viewers who stand in the same place
        share the same bytes, rendered once per content version.
        """
        if not stage.items:
            return EMPTY_LIST
        first = stage.items[0]
        access = self._by_placement.get(id(first.placement))
        if access is None:
            access = decide(self.viewer, first.placement)
            self._by_placement[id(first.placement)] = access
        expiry = self.link_expiry() if isinstance(access, Unlocked) else 0
        key = (id(stage), access, expiry)
        body = store.fragments.get(key)
        if body is None:
            body = orjson.dumps(
                [
                    {
                        "position": item.position,
                        "dosage": item.dosage,
                        "exercise": self.render(item.exercise, access),
                    }
                    for item in stage.items
                ]
            )
            store.keep_fragment(key, body)
        return orjson.Fragment(body)

    def standalone(self, entry: Renderable) -> orjson.Fragment:
        """An exercise on its own: unlocked when any program context unlocks it."""
        return self.render(entry, decide_standalone(self.viewer, entry.placements))

    def render(self, entry: Renderable, access: Access) -> orjson.Fragment:
        if isinstance(access, Locked):
            lock = LOGIN_REQUIRED_JSON if access is LOGIN_REQUIRED else lock_json(access)
            return orjson.Fragment(LOCKED_HEAD + entry.teaser_json + b',"lock":' + lock + b"}")
        video = self._media.sign_json(entry.video_key) if entry.video_key else b"null"
        return orjson.Fragment(
            UNLOCKED_HEAD
            + entry.teaser_json
            + b',"video":'
            + video
            + b","
            + entry.premium_json
            + b"}"
        )
