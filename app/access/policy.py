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
    reached in it; `stage_hints` may hold what remains before the next stage;
    `clinic_ids` are the clinics the viewer works in.
    """

    user_id: int | None = None
    role: Role | None = None
    current_stages: Mapping[int, int] = field(default_factory=dict)
    stage_hints: Mapping[int, str] = field(default_factory=dict)
    clinic_ids: frozenset[int] = frozenset()

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.CLINICIAN, Role.ADMIN)

    def can_see_program(self, program_id: int, clinic_id: int | None) -> bool:
        """Public programs are everyone's; a clinic's own program is seen by its clinic,
        by admins, and by the patients following it."""
        return (
            clinic_id is None
            or clinic_id in self.clinic_ids
            or program_id in self.current_stages
            or self.role == Role.ADMIN
        )


ANONYMOUS = Viewer()


@dataclass(frozen=True, slots=True)
class Placement:
    """An exercise's place in a program: the context a decision is made in."""

    program_id: int
    program_name: str
    stage_position: int
    stage_name: str
    clinic_id: int | None = None  # a clinic's own program: a context only some viewers have


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
    """Decide an exercise shown on its own: unlocked when any context unlocks it.

    Only contexts the viewer can see count: a clinic's program neither unlocks
    an exercise for outsiders nor names itself in their lock message.
    """
    first_refusal: Access | None = None
    for placement in placements:
        if not viewer.can_see_program(placement.program_id, placement.clinic_id):
            continue
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
