"""Renders exercises for one viewer: the policy decides, this shapes the payload.

The locked shape is built from the teaser alone, so premium keys cannot leak
into it; the unlocked shape adds them and a signed, expiring video link.
"""

from __future__ import annotations

from typing import Any

from app.access.policy import Access, Locked, Viewer, decide, decide_standalone
from app.catalog.snapshot import ExerciseEntry, StageItem
from app.core.media import MediaSigner

JSONDict = dict[str, Any]


class ExercisePresenter:
    def __init__(self, viewer: Viewer, media: MediaSigner) -> None:
        self.viewer = viewer
        self._media = media

    def link_expiry(self) -> int:
        """When the links this presenter signs expire: part of a personalised ETag."""
        return self._media.current_expiry()

    def in_stage(self, item: StageItem) -> JSONDict:
        """An exercise as it appears inside a program stage."""
        return self.render(item.exercise, decide(self.viewer, item.placement))

    def standalone(self, entry: ExerciseEntry) -> JSONDict:
        """An exercise on its own: unlocked when any program context unlocks it."""
        return self.render(entry, decide_standalone(self.viewer, entry.placements))

    def render(self, entry: ExerciseEntry, access: Access) -> JSONDict:
        if isinstance(access, Locked):
            return {
                "access": "locked",
                **entry.teaser,
                "lock": {
                    "reason": access.reason.value,
                    "message": access.message,
                    "unlock_hint": access.unlock_hint,
                },
            }
        return {
            "access": "unlocked",
            **entry.teaser,
            "video": self._media.sign(entry.video_key) if entry.video_key else None,
            **entry.premium,
        }
