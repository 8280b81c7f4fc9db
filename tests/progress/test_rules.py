"""The advance rule as a pure function: each criterion, its boundaries, time zones, pain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.progress.rules import AdvanceRule, Criterion, StageFacts, days_at_stage, evaluate

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
EXERCISES = (1, 2, 3, 4, 5, 6)
RULE = AdvanceRule(min_days=14, min_sessions=10, all_exercises_easy=True, max_pain=5)


def facts(
    *,
    days: float = 20,
    sessions: int = 12,
    ratings: dict[int, str] | None = None,
    pain: int | None = None,
) -> StageFacts:
    return StageFacts(
        stage_started_at=NOW - timedelta(days=days),
        sessions=sessions,
        exercise_ids=EXERCISES,
        latest_ratings=dict.fromkeys(EXERCISES, "easy") if ratings is None else ratings,
        worst_recent_pain=pain,
    )


def result(evaluation_facts: StageFacts, criterion: Criterion, rule: AdvanceRule = RULE) -> bool:
    evaluation = evaluate(rule, evaluation_facts, NOW)
    return next(r.met for r in evaluation.criteria if r.criterion is criterion)


def test_everything_met_allows_advancing() -> None:
    evaluation = evaluate(RULE, facts(), NOW)
    assert evaluation.can_advance
    assert not evaluation.pain_hold
    assert evaluation.unmet == ()
    assert evaluation.hint() == "ready to advance"


@pytest.mark.parametrize(("days", "met"), [(13.99, False), (14, True), (0, False), (30, True)])
def test_min_days_boundary(days: float, met: bool) -> None:
    assert result(facts(days=days), Criterion.MIN_DAYS) is met


@pytest.mark.parametrize(("sessions", "met"), [(9, False), (10, True), (0, False)])
def test_min_sessions_boundary(sessions: int, met: bool) -> None:
    assert result(facts(sessions=sessions), Criterion.MIN_SESSIONS) is met


def test_every_exercise_must_have_its_latest_rating_easy() -> None:
    nearly = dict.fromkeys(EXERCISES, "easy") | {6: "moderate"}
    assert not result(facts(ratings=nearly), Criterion.ALL_EXERCISES_EASY)
    missing_one = dict.fromkeys(EXERCISES[:-1], "easy")
    assert not result(facts(ratings=missing_one), Criterion.ALL_EXERCISES_EASY)
    assert result(facts(), Criterion.ALL_EXERCISES_EASY)


def test_easy_rule_is_skipped_when_the_stage_does_not_ask_for_it() -> None:
    rule = AdvanceRule(min_days=0, min_sessions=0, all_exercises_easy=False, max_pain=6)
    evaluation = evaluate(rule, facts(ratings={}), NOW)
    assert Criterion.ALL_EXERCISES_EASY not in {r.criterion for r in evaluation.criteria}
    assert evaluation.can_advance


@pytest.mark.parametrize(
    ("pain", "held"), [(None, False), (0, False), (4, False), (5, True), (9, True)]
)
def test_pain_at_or_above_the_limit_holds_progression(pain: int | None, held: bool) -> None:
    evaluation = evaluate(RULE, facts(pain=pain), NOW)
    assert evaluation.pain_hold is held
    assert evaluation.can_advance is not held
    if held:
        pain_result = next(
            r for r in evaluation.criteria if r.criterion is Criterion.PAIN_BELOW_LIMIT
        )
        assert "health professional" in pain_result.summary


def test_summaries_carry_the_numbers() -> None:
    ratings = {1: "easy", 2: "easy", 3: "easy", 4: "easy", 5: "hard"}
    evaluation = evaluate(RULE, facts(days=9, sessions=4, ratings=ratings), NOW)
    summaries = {r.criterion: r.summary for r in evaluation.criteria}
    assert summaries[Criterion.MIN_DAYS] == "9 of 14 days at this stage"
    assert summaries[Criterion.MIN_SESSIONS] == "4 of 10 sessions logged"
    assert summaries[Criterion.ALL_EXERCISES_EASY] == "4 of 6 exercises rated easy"


def test_the_hint_says_what_remains() -> None:
    ratings = {1: "easy", 2: "easy", 3: "easy", 4: "easy"}
    evaluation = evaluate(RULE, facts(days=9, sessions=10, ratings=ratings), NOW)
    assert evaluation.hint() == "5 more days; rate 2 more exercises easy"
    one_left = evaluate(RULE, facts(days=13.5, sessions=9), NOW)
    assert one_left.hint() == "1 more day; log 1 more session"


def test_days_count_whole_elapsed_days_whatever_the_time_zones() -> None:
    auckland = timezone(timedelta(hours=13))
    los_angeles = timezone(timedelta(hours=-8))
    start = datetime(2026, 11, 10, 23, 30, tzinfo=auckland)  # 10:30 UTC on the 10th
    assert days_at_stage(start, datetime(2026, 11, 24, 10, 29, tzinfo=UTC)) == 13
    assert days_at_stage(start, datetime(2026, 11, 24, 10, 30, tzinfo=UTC)) == 14
    same_moment = datetime(2026, 11, 24, 2, 30, tzinfo=los_angeles)
    assert days_at_stage(start, same_moment) == 14


def test_a_start_in_the_future_counts_as_zero_days() -> None:
    assert days_at_stage(NOW + timedelta(hours=3), NOW) == 0
