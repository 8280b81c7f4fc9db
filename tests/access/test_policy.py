"""The lock decision as a truth table: no app, no database."""

from __future__ import annotations

import pytest

from app.access.policy import (
    ANONYMOUS,
    Access,
    Locked,
    LockReason,
    Placement,
    Role,
    Unlocked,
    Viewer,
    decide,
    decide_standalone,
)

PROGRAM = 7


def at_stage(position: int) -> Placement:
    return Placement(
        program_id=PROGRAM,
        program_name="Whole Leg Rehabilitation",
        stage_position=position,
        stage_name=f"Level {position}",
    )


MEMBER = Viewer(user_id=1, role=Role.MEMBER)
MEMBER_AT_3 = Viewer(user_id=1, role=Role.MEMBER, current_stages={PROGRAM: 3})
CLINICIAN = Viewer(user_id=2, role=Role.CLINICIAN)
ADMIN = Viewer(user_id=3, role=Role.ADMIN)


def outcome(access: Access) -> str:
    return access.reason.value if isinstance(access, Locked) else "unlocked"


@pytest.mark.parametrize(
    ("viewer", "placement", "expected"),
    [
        (ANONYMOUS, None, "login_required"),
        (ANONYMOUS, at_stage(1), "login_required"),
        (ANONYMOUS, at_stage(4), "login_required"),
        (MEMBER, None, "unlocked"),
        (MEMBER, at_stage(1), "unlocked"),
        (MEMBER, at_stage(2), "stage_locked"),
        (MEMBER_AT_3, at_stage(2), "unlocked"),
        (MEMBER_AT_3, at_stage(3), "unlocked"),
        (MEMBER_AT_3, at_stage(4), "stage_locked"),
        (CLINICIAN, at_stage(5), "unlocked"),
        (ADMIN, at_stage(5), "unlocked"),
    ],
)
def test_decide_truth_table(viewer: Viewer, placement: Placement | None, expected: str) -> None:
    assert outcome(decide(viewer, placement)) == expected


def test_progress_in_one_program_does_not_unlock_another() -> None:
    other = Placement(program_id=99, program_name="Other", stage_position=2, stage_name="Two")
    assert outcome(decide(MEMBER_AT_3, other)) == "stage_locked"


def test_stage_locked_hint_names_program_and_stage() -> None:
    access = decide(MEMBER, at_stage(3))
    assert isinstance(access, Locked)
    assert "Whole Leg Rehabilitation" in access.message
    assert "stage 3" in access.unlock_hint


def test_stage_locked_hint_uses_the_viewers_remaining_criteria_when_known() -> None:
    viewer = Viewer(
        user_id=1, role=Role.MEMBER, stage_hints={PROGRAM: "rate 2 more exercises easy"}
    )
    access = decide(viewer, at_stage(2))
    assert isinstance(access, Locked)
    assert access.unlock_hint == "rate 2 more exercises easy"


def test_login_required_has_a_call_to_action() -> None:
    access = decide(ANONYMOUS, at_stage(1))
    assert isinstance(access, Locked)
    assert access.reason is LockReason.LOGIN_REQUIRED
    assert access.message
    assert access.unlock_hint


@pytest.mark.parametrize(
    ("viewer", "placements", "expected"),
    [
        (ANONYMOUS, [], "login_required"),
        (ANONYMOUS, [at_stage(1)], "login_required"),
        (MEMBER, [], "unlocked"),
        (MEMBER, [at_stage(3)], "stage_locked"),
        (MEMBER, [at_stage(3), at_stage(1)], "unlocked"),
        (MEMBER_AT_3, [at_stage(5), at_stage(3)], "unlocked"),
        (CLINICIAN, [at_stage(5)], "unlocked"),
    ],
)
def test_standalone_is_unlocked_when_any_context_unlocks_it(
    viewer: Viewer, placements: list[Placement], expected: str
) -> None:
    assert outcome(decide_standalone(viewer, placements)) == expected


def test_unlocked_is_a_value_not_a_flag() -> None:
    assert isinstance(decide(ADMIN, None), Unlocked)
