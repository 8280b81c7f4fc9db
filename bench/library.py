"""The external exercise library: the real free-exercise-db file, or a stand-in of the same shape.

A fresh clone may not have `../shared/data/free-exercise-db/exercises.json`;
the stand-in keeps the catalogue the same size (873 records) and mix
(categories, levels, equipment, a stretching share that `q=stretch` finds),
so the numbers do not depend on whether the file is there.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

Record = dict[str, Any]

# Shares as in free-exercise-db (873 records): 581 strength, 123 stretching, ...
CATEGORIES = {
    "strength": 581, "stretching": 123, "plyometrics": 61, "powerlifting": 38,
    "olympic weightlifting": 35, "strongman": 21, "cardio": 14,
}  # fmt: skip
LEVELS = {"beginner": 523, "intermediate": 293, "expert": 57}
EQUIPMENT = [
    "barbell", "dumbbell", "other", "body only", "cable", None, "machine", "kettlebells",
    "bands", "medicine ball", "exercise ball", "foam roll", "e-z curl bar",
]  # fmt: skip
MUSCLES = [
    "abdominals", "abductors", "adductors", "biceps", "calves", "chest", "forearms", "glutes",
    "hamstrings", "lats", "lower back", "middle back", "neck", "quadriceps", "shoulders",
    "traps", "triceps",
]  # fmt: skip
MOVES = {
    "stretching": ["Stretch", "Mobility Drill", "Release"],
    "cardio": ["Run", "Skip", "Row"],
    "plyometrics": ["Jump", "Bound", "Hop"],
}
DEFAULT_MOVES = ["Press", "Curl", "Raise", "Row", "Squat", "Lunge", "Deadlift", "Extension"]
STEP = (
    "Set up with a neutral spine and braced trunk, then move through the range under control, "
    "pausing briefly at the end and breathing out as you work."
)


def load_library(path: Path, size: int) -> list[Record]:
    """The records the data set imported: the file's when it exists, else the generated ones."""
    if path.is_file():
        records: list[Record] = json.loads(path.read_bytes())
        return records
    return generate_library(size)


def generate_library(size: int, seed: int = 873) -> list[Record]:
    """`size` valid free-exercise-db records with the real file's mix, the same every run."""
    rng = random.Random(seed)  # noqa: S311 (repeatable test data, not secrets)
    categories = _spread(CATEGORIES, size, rng)
    levels = _spread(LEVELS, size, rng)
    return [_record(i, categories[i], levels[i], rng) for i in range(size)]


def _spread(shares: dict[str, int], size: int, rng: random.Random) -> list[str]:
    total = sum(shares.values())
    values = [name for name, count in shares.items() for _ in range(count * size // total)]
    values += [next(iter(shares))] * (size - len(values))
    rng.shuffle(values)
    return values


def _record(index: int, category: str, level: str, rng: random.Random) -> Record:
    primary = rng.sample(MUSCLES, 1)
    muscle = primary[0].title()
    move = rng.choice(MOVES.get(category, DEFAULT_MOVES))
    name = f"{muscle} {move} {index + 1:03d}"
    slug = name.replace(" ", "_")
    return {
        "id": slug,
        "name": name,
        "force": rng.choice(["static", "pull", "push", None]),
        "level": level,
        "mechanic": rng.choice(["isolation", "compound", None]),
        "equipment": rng.choice(EQUIPMENT),
        "primaryMuscles": primary,
        "secondaryMuscles": rng.sample(MUSCLES, rng.randint(0, 3)),
        "instructions": [STEP] * rng.randint(2, 6),
        "category": category,
        "images": [f"{slug}/0.jpg", f"{slug}/1.jpg"],
    }


def copied_records(records: list[Record], copies: range) -> list[Record]:
    """The library again under new ids (`<id>-copy-N`): new exercises, same content."""
    return [
        record | {"id": f"{record['id']}-copy-{n}", "name": f"{record['name']} (copy {n})"}
        for n in copies
        for record in records
    ]


def write_records(records: list[Record], path: Path) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path
