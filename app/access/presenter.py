"""Renders exercises for one viewer: the policy decides, this shapes the payload.

The locked shape is spliced from the teaser alone, so premium keys cannot
leak into it; the unlocked shape adds them and a signed, expiring video link.
Both are assembled from bytes serialised once per content version.
"""

from __future__ import annotations

import orjson

from app.access.policy import LOGIN_REQUIRED, Access, Locked, Viewer, decide, decide_standalone
from app.catalog.snapshot import ExerciseEntry, StageItem
from app.core.media import MediaSigner

LOCKED_HEAD = b'{"access":"locked",'
UNLOCKED_HEAD = b'{"access":"unlocked",'


def lock_json(access: Locked) -> bytes:
    return orjson.dumps(
        {
            "reason": access.reason.value,
            "message": access.message,
            "unlock_hint": access.unlock_hint,
        }
    )


LOGIN_REQUIRED_JSON = lock_json(LOGIN_REQUIRED)


class ExercisePresenter:
    def __init__(self, viewer: Viewer, media: MediaSigner) -> None:
        self.viewer = viewer
        self._media = media

    def link_expiry(self) -> int:
        """When the links this presenter signs expire: part of a personalised ETag."""
        return self._media.current_expiry()

    def in_stage(self, item: StageItem) -> orjson.Fragment:
        """An exercise as it appears inside a program stage."""
        return self.render(item.exercise, decide(self.viewer, item.placement))

    def standalone(self, entry: ExerciseEntry) -> orjson.Fragment:
        """An exercise on its own: unlocked when any program context unlocks it."""
        return self.render(entry, decide_standalone(self.viewer, entry.placements))

    def render(self, entry: ExerciseEntry, access: Access) -> orjson.Fragment:
        if isinstance(access, Locked):
            lock = LOGIN_REQUIRED_JSON if access is LOGIN_REQUIRED else lock_json(access)
            return orjson.Fragment(LOCKED_HEAD + entry.teaser_json + b',"lock":' + lock + b"}")
        video = orjson.dumps(self._media.sign(entry.video_key) if entry.video_key else None)
        return orjson.Fragment(
            UNLOCKED_HEAD
            + entry.teaser_json
            + b',"video":'
            + video
            + b","
            + entry.premium_json
            + b"}"
        )
