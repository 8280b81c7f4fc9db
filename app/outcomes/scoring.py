"""The one scoring engine: an instrument's definition and a person's answers in, scores out.

Pure (no database, no HTTP), so every rule is checked against hand-computed
numbers in `tests/outcomes/test_scoring.py`. Rules, in order:

1. a reversed item counts as (lowest + highest - value);
2. fewer answered items than the scale's `min_answered` gives no score;
3. `mean` averages the answered items; `sum` adds them and, when optional items
   were left out, prorates to the full scale (mean x number of items), so a
   skipped item neither lowers nor raises the total;
4. `scale_to_100` maps the scale's possible range linearly onto 0-100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.outcomes.definition import Better, InstrumentDefinition, Item, Method, Scoring

TOTAL = "total"


@dataclass(frozen=True, slots=True)
class Score:
    """One scale's score: None when too few of its items were answered."""

    value: float | None
    answered: int
    of: int


@dataclass(frozen=True, slots=True)
class Change:
    """A score against the person's first (baseline) score on the same instrument."""

    baseline: float
    change: float
    # The change in the direction of "better" (positive: better than at baseline).
    improvement: float
    passes_mcid: bool | None


def score(definition: InstrumentDefinition, answers: Mapping[str, int]) -> dict[str, Score]:
    """The total (`"total"`) and every subscale, by key."""
    scoring = definition.scoring
    scores = {TOTAL: _scale(definition.items, answers, scoring, scoring.min_answered)}
    for subscale in scoring.subscales:
        items = [item for item in definition.items if item.key in set(subscale.items)]
        scores[subscale.key] = _scale(items, answers, scoring, subscale.min_answered)
    return scores


def _scale(
    items: Sequence[Item],
    answers: Mapping[str, int],
    scoring: Scoring,
    min_answered: int,
) -> Score:
    answered = [(item, answers[item.key]) for item in items if item.key in answers]
    if len(answered) < min_answered:
        return Score(value=None, answered=len(answered), of=len(items))
    points = [
        (item.lowest + item.highest - value) if item.reversed else value for item, value in answered
    ]
    mean = sum(points) / len(points)
    lowest = sum(item.lowest for item in items)
    highest = sum(item.highest for item in items)
    if scoring.method is Method.MEAN:
        raw, lowest_raw, highest_raw = mean, lowest / len(items), highest / len(items)
    else:
        raw, lowest_raw, highest_raw = mean * len(items), float(lowest), float(highest)
    if scoring.scale_to_100:
        raw = (raw - lowest_raw) / (highest_raw - lowest_raw) * 100
    return Score(value=round(raw, 2), answered=len(answered), of=len(items))


def compare(*, baseline: float, current: float, better: Better, mcid: float | None) -> Change:
    """How far `current` moved from `baseline`, and whether that passes the MCID."""
    change = round(current - baseline, 2)
    improvement = change if better is Better.HIGHER else -change
    return Change(
        baseline=baseline,
        change=change,
        improvement=improvement,
        passes_mcid=None if mcid is None else improvement >= mcid,
    )
