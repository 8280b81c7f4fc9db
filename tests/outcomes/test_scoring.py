"""The scoring engine against scores worked out by hand, rule by rule."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.outcomes.definition import Better, InstrumentDefinition
from app.outcomes.scoring import TOTAL, compare, score
from tests.outcomes.synthetic import options, synthetic


def values(
    method: str = "sum", *, scale_to_100: bool = True, **answers: int
) -> dict[str, float | None]:
    definition = InstrumentDefinition.model_validate(synthetic(method, scale_to_100=scale_to_100))
    return {key: found.value for key, found in score(definition, answers).items()}


def test_a_plain_sum_adds_the_points_with_reversed_items_turned_round() -> None:
    # b=1 on 0-4 reversed counts 3: 3 + 3 + 2 + 3
    assert values(scale_to_100=False, a=3, b=1, c=2, d=3)[TOTAL] == 11


def test_a_sum_scaled_to_100_maps_the_possible_range_onto_0_100() -> None:
    # possible 1..17 (d runs 1-5): (11 - 1) / 16 * 100; subscale cd: (5 - 1) / 8 * 100
    assert values(a=3, b=1, c=2, d=3) == {TOTAL: 62.5, "ab": 75.0, "cd": 50.0}


def test_the_extremes_score_0_and_100() -> None:
    assert values(a=0, b=4, c=0, d=1)[TOTAL] == 0.0
    assert values(a=4, b=0, c=4, d=5)[TOTAL] == 100.0


def test_a_mean_averages_the_answered_items() -> None:
    assert values("mean", scale_to_100=False, a=3, b=1, c=2, d=3)[TOTAL] == 2.75
    # scaled: lowest mean 0.25, highest 4.25: (2.75 - 0.25) / 4 * 100
    assert values("mean", a=3, b=1, c=2, d=3)[TOTAL] == 62.5
    # an optional item left out: the mean of the other three, (3 + 3 + 2) / 3
    assert values("mean", scale_to_100=False, a=3, b=1, c=2)[TOTAL] == 2.67


def test_a_sum_with_an_optional_item_left_out_is_prorated_to_the_whole_scale() -> None:
    # 8 from three items: 8 / 3 * 4 = 10.667, scaled (10.667 - 1) / 16 * 100
    found = values(a=3, b=1, c=2)
    assert found[TOTAL] == 60.42
    # cd from c alone: 2 * 2 = 4, scaled (4 - 1) / 8 * 100
    assert found["cd"] == 37.5


def test_too_few_answers_give_no_score_for_that_scale_only() -> None:
    definition = InstrumentDefinition.model_validate(synthetic())
    found = score(definition, {"a": 3, "b": 1})
    assert found[TOTAL].value is None
    assert (found[TOTAL].answered, found[TOTAL].of) == (2, 4)
    assert found["ab"].value == 75.0
    assert found["cd"].value is None


def test_change_from_baseline_is_judged_in_the_direction_of_better() -> None:
    pain = compare(baseline=6, current=3, better=Better.LOWER, mcid=2)
    assert (pain.change, pain.improvement, pain.passes_mcid) == (-3, 3, True)
    function = compare(baseline=50, current=55, better=Better.HIGHER, mcid=10)
    assert (function.change, function.improvement, function.passes_mcid) == (5, 5, False)
    worse = compare(baseline=3, current=6, better=Better.LOWER, mcid=2)
    assert worse.passes_mcid is False
    assert compare(baseline=1, current=2, better=Better.HIGHER, mcid=None).passes_mcid is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["scoring"]["subscales"][0]["items"].append("zz"), "unknown items"),
        (lambda d: d["scoring"].update(min_answered=5), "more than the number of items"),
        (lambda d: d["items"][0]["options"].append({"value": 0}), "same value twice"),
        (lambda d: d["items"].append(dict(d["items"][0])), "distinct"),
        (lambda d: d["items"][0].update(options=options(0, 0)), "at least 2"),
    ],
)
def test_an_inconsistent_definition_is_refused(change: object, message: str) -> None:
    definition = synthetic()
    change(definition)  # type: ignore[operator]
    with pytest.raises(ValidationError, match=message):
        InstrumentDefinition.model_validate(definition)
