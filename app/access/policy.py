"""The lock decision: who may see an exercise's premium content, and why not.

Pure on purpose: no FastAPI, no database. Every output path (lists, details,
exercises nested in programs, exports) asks `decide` and renders the answer
through the presenter, so the rule lives in exactly one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    CLINICIAN = "clinician"
    ADMIN = "admin"


class LockReason(StrEnum):
    LOGIN_REQUIRED = "login_required"
    STAGE_LOCKED = "stage_locked"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking. `role is None` means an anonymous caller.

    `current_stages` maps a program id to the stage position the viewer has
    reached in it; `stage_hints` may hold what remains before the next stage.
    """

    user_id: int | None = None
    role: Role | None = None
    current_stages: Mapping[int, int] = field(default_factory=dict)
    stage_hints: Mapping[int, str] = field(default_factory=dict)

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.CLINICIAN, Role.ADMIN)


ANONYMOUS = Viewer()


@dataclass(frozen=True, slots=True)
class Placement:
    """An exercise's place in a program: the context a decision is made in."""

    program_id: int
    program_name: str
    stage_position: int
    stage_name: str


@dataclass(frozen=True, slots=True)
class Unlocked:
    pass


@dataclass(frozen=True, slots=True)
class Locked:
    reason: LockReason
    message: str
    unlock_hint: str


Access = Unlocked | Locked

UNLOCKED = Unlocked()
LOGIN_REQUIRED = Locked(
    reason=LockReason.LOGIN_REQUIRED,
    message="Sign in to see the video, instructions and coaching cues.",
    unlock_hint="Create a free account or sign in to unlock this exercise.",
)


def decide(viewer: Viewer, placement: Placement | None) -> Access:
    """Decide one exercise in one context (`None`: outside any program)."""
    if viewer.is_anonymous:
        return LOGIN_REQUIRED
    if viewer.sees_everything or placement is None or placement.stage_position == 1:
        return UNLOCKED
    reached = viewer.current_stages.get(placement.program_id, 1)
    if placement.stage_position <= reached:
        return UNLOCKED
    return _stage_locked(viewer, placement, reached)


def decide_standalone(viewer: Viewer, placements: Iterable[Placement]) -> Access:
    """Decide an exercise shown on its own: unlocked when any context unlocks it."""
    first_refusal: Access | None = None
    for placement in placements:
        access = decide(viewer, placement)
        if isinstance(access, Unlocked):
            return access
        first_refusal = first_refusal or access
    return first_refusal or decide(viewer, None)


def _stage_locked(viewer: Viewer, placement: Placement, reached: int) -> Locked:
    hint = viewer.stage_hints.get(placement.program_id)
    if hint is None:
        hint = (
            f"Complete stage {reached} of {placement.program_name} to move on; "
            f"this exercise opens at stage {placement.stage_position}."
        )
    return Locked(
        reason=LockReason.STAGE_LOCKED,
        message=(
            f"This exercise belongs to {placement.stage_name} of {placement.program_name}, "
            "which opens once you progress to it."
        ),
        unlock_hint=hint,
    )
