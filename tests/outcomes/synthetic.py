"""A made-up instrument that uses every scoring rule, for the engine and the API tests."""

from __future__ import annotations

from typing import Any


def options(lowest: int, highest: int) -> list[dict[str, Any]]:
    return [{"value": value} for value in range(lowest, highest + 1)]


def synthetic(method: str = "sum", *, scale_to_100: bool = True) -> dict[str, Any]:
    """Four items: `a` plain, `b` reversed, `c` and `d` optional (`d` runs 1-5)."""
    return {
        "title": "Synthetic scale",
        "items": [
            {"key": "a", "text": "Item a", "options": options(0, 4)},
            {"key": "b", "text": "Item b", "options": options(0, 4), "reversed": True},
            {"key": "c", "text": "Item c", "options": options(0, 4), "required": False},
            {"key": "d", "text": "Item d", "options": options(1, 5), "required": False},
        ],
        "scoring": {
            "method": method,
            "scale_to_100": scale_to_100,
            "min_answered": 3,
            "better": "higher",
            "mcid": 10,
            "subscales": [
                {"key": "ab", "title": "A and B", "items": ["a", "b"], "min_answered": 2},
                {"key": "cd", "title": "C and D", "items": ["c", "d"], "min_answered": 1},
            ],
        },
    }
