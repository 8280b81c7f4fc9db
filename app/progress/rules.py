"""The advance rule, as a pure function of what a person has done at a stage.

The source's rules: stay at least 2-4 weeks ("min_days"), log enough
sessions, and "do not progress until you can easily do ALL of the
exercises" (the latest rating of every exercise is `easy`). A pain report at
or above the stage's `max_pain` in the last 7 days holds progression and
advises seeing a health professional.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

PAIN_WINDOW = timedelta(days=7)


class Criterion(StrEnum):
    MIN_DAYS = "min_days"
    MIN_SESSIONS = "min_sessions"
    ALL_EXERCISES_EASY = "all_exercises_easy"
    PAIN_BELOW_LIMIT = "pain_below_limit"


@dataclass(frozen=True, slots=True)
class AdvanceRule:
    min_days: int
    min_sessions: int
    all_exercises_easy: bool
    max_pain: int


@dataclass(frozen=True, slots=True)
class StageFacts:
    """What the person has done at their current stage."""

    stage_started_at: datetime
    sessions: int
    exercise_ids: Collection[int]
    latest_ratings: Mapping[int, str]  # exercise id -> easy | moderate | hard
    worst_recent_pain: int | None  # highest pain at this stage in the last 7 days


@dataclass(frozen=True, slots=True)
class CriterionResult:
    criterion: Criterion
    met: bool
    current: int
    required: int
    summary: str  # "4 of 6 exercises rated easy"
    remaining: str | None  # what is left, for the unlock hint: "rate 2 more exercises easy"


@dataclass(frozen=True, slots=True)
class Evaluation:
    criteria: tuple[CriterionResult, ...]

    @property
    def can_advance(self) -> bool:
        return all(result.met for result in self.criteria)

    @property
    def pain_hold(self) -> bool:
        return any(r.criterion is Criterion.PAIN_BELOW_LIMIT and not r.met for r in self.criteria)

    @property
    def unmet(self) -> tuple[CriterionResult, ...]:
        return tuple(result for result in self.criteria if not result.met)

    def hint(self) -> str:
        """What remains before the next stage, in a few words."""
        parts = [r.remaining for r in self.unmet if r.remaining]
        return "; ".join(parts) if parts else "ready to advance"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def days_at_stage(started_at: datetime, now: datetime) -> int:
    """Whole days since the stage began (aware datetimes, so time zones cannot skew it)."""
    return max(0, (now - started_at) // timedelta(days=1))


def evaluate(rule: AdvanceRule, facts: StageFacts, now: datetime) -> Evaluation:
    days = days_at_stage(facts.stage_started_at, now)
    results = [
        CriterionResult(
            Criterion.MIN_DAYS,
            met=days >= rule.min_days,
            current=days,
            required=rule.min_days,
            summary=f"{days} of {_plural(rule.min_days, 'day')} at this stage",
            remaining=_plural(rule.min_days - days, "more day") if days < rule.min_days else None,
        ),
        CriterionResult(
            Criterion.MIN_SESSIONS,
            met=facts.sessions >= rule.min_sessions,
            current=facts.sessions,
            required=rule.min_sessions,
            summary=f"{facts.sessions} of {_plural(rule.min_sessions, 'session')} logged",
            remaining=(
                f"log {_plural(rule.min_sessions - facts.sessions, 'more session')}"
                if facts.sessions < rule.min_sessions
                else None
            ),
        ),
    ]
    if rule.all_exercises_easy:
        total = len(facts.exercise_ids)
        easy = sum(1 for e in facts.exercise_ids if facts.latest_ratings.get(e) == "easy")
        results.append(
            CriterionResult(
                Criterion.ALL_EXERCISES_EASY,
                met=easy == total,
                current=easy,
                required=total,
                summary=f"{easy} of {_plural(total, 'exercise')} rated easy",
                remaining=(
                    f"rate {_plural(total - easy, 'more exercise')} easy" if easy < total else None
                ),
            )
        )
    pain = facts.worst_recent_pain
    held = pain is not None and pain >= rule.max_pain
    results.append(
        CriterionResult(
            Criterion.PAIN_BELOW_LIMIT,
            met=not held,
            current=pain or 0,
            required=rule.max_pain,
            summary=(
                f"pain reached {pain}/10 in the last 7 days (limit: below {rule.max_pain}); "
                "please check with a health professional before progressing"
                if held
                else f"no pain at or above {rule.max_pain}/10 in the last 7 days"
            ),
            remaining="pain must settle below the limit (see a health professional)"
            if held
            else None,
        )
    )
    return Evaluation(tuple(results))
