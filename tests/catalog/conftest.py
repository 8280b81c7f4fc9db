"""Helpers for catalogue tests: premium keys, and walking every exercise in a payload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PREMIUM_KEYS = frozenset({"video", "instructions", "cues", "mistakes", "precautions"})


def exercises_in_program(program: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for stage in program["stages"]:
        for item in stage["exercises"]:
            yield item["exercise"]
