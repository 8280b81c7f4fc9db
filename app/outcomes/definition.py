"""An instrument as data: its items, their answer options, and the rule that scores them.

The same shape is what an admin sends, what the seed holds and what a stored
version keeps, so a licensed instrument (LEFS, HOOS-12, KOOS-12) is loaded
through the admin API without any code of its own.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from app.core.schemas import InputModel, LaxEnum, LongText, Sentence, ShortText

ItemKey = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", min_length=1, max_length=40)
]
# A number of points on a scale; JSON integers are accepted where a decimal goes.
Points = Annotated[float, Field(strict=False, gt=0, le=1000)]


class Method(StrEnum):
    SUM = "sum"
    MEAN = "mean"


class Better(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


class AnswerOption(InputModel):
    value: int = Field(ge=-100, le=100)
    label: ShortText | None = None


class Item(InputModel):
    key: ItemKey
    text: Sentence
    options: list[AnswerOption] = Field(min_length=2, max_length=101)
    required: bool = True
    # Scored as (lowest + highest - value), so every item points the same way.
    reversed: bool = False
    # The person names what the item is about (an activity of the functional scale).
    named_by_person: bool = False

    @model_validator(mode="after")
    def _distinct_values(self) -> Item:
        values = [option.value for option in self.options]
        if len(set(values)) != len(values):
            raise ValueError(f"item {self.key!r} offers the same value twice")
        return self

    @property
    def lowest(self) -> int:
        return min(option.value for option in self.options)

    @property
    def highest(self) -> int:
        return max(option.value for option in self.options)


class Subscale(InputModel):
    key: ItemKey
    title: ShortText
    items: list[ItemKey] = Field(min_length=1, max_length=100)
    min_answered: int = Field(ge=1, le=100)
    mcid: Points | None = None


class Scoring(InputModel):
    method: Annotated[Method, LaxEnum]
    # Rescale linearly so the lowest possible score is 0 and the highest 100 (the range is
    # that of the items' options); which end is better is still `better`.
    scale_to_100: bool = False
    min_answered: int = Field(ge=1, le=100)
    better: Annotated[Better, LaxEnum]
    mcid: Points | None = None
    subscales: list[Subscale] = Field(default_factory=list, max_length=20)


class InstrumentDefinition(InputModel):
    title: ShortText
    description: LongText | None = None
    items: list[Item] = Field(min_length=1, max_length=100)
    scoring: Scoring

    @model_validator(mode="after")
    def _consistent(self) -> InstrumentDefinition:
        keys = [item.key for item in self.items]
        if len(set(keys)) != len(keys):
            raise ValueError("item keys must be distinct")
        if self.scoring.min_answered > len(keys):
            raise ValueError("scoring.min_answered is more than the number of items")
        subscale_keys = [subscale.key for subscale in self.scoring.subscales]
        if len(set(subscale_keys)) != len(subscale_keys):
            raise ValueError("subscale keys must be distinct")
        for subscale in self.scoring.subscales:
            unknown = sorted(set(subscale.items) - set(keys))
            if unknown:
                raise ValueError(f"subscale {subscale.key!r} names unknown items: {unknown}")
            if subscale.min_answered > len(set(subscale.items)):
                raise ValueError(f"subscale {subscale.key!r}: min_answered exceeds its items")
        return self

    def item(self, key: str) -> Item | None:
        return next((item for item in self.items if item.key == key), None)
