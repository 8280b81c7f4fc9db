"""Finding exercises in the snapshot: filters, relevance order, sorts and facet counts.

Everything here works on the in-memory snapshot (no database): a search is a
pass over a few thousand frozen entries, and anonymous answers are rendered
once per content version by the router.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.catalog.snapshot import CatalogSnapshot, ExerciseEntry, keep, matches_query


class ExerciseSource(StrEnum):
    AUTHORED = "authored"  # written for this catalogue
    IMPORTED = "imported"  # brought in from an external library


class ExerciseSort(StrEnum):
    RELEVANCE = "relevance"
    NAME = "name"
    NAME_DESC = "-name"
    DIFFICULTY = "difficulty"


DIFFICULTY_RANK = {"beginner": 0, "intermediate": 1, "advanced": 2}
FACETS = ("region", "muscle", "equipment", "difficulty")


@dataclass(frozen=True, slots=True)
class ExerciseFilters:
    """The list's filters; the facets take the same ones, so counts match what a filter finds."""

    query: str | None = None
    region: str | None = None
    muscle: str | None = None
    equipment: str | None = None
    difficulty: str | None = None
    source: ExerciseSource | None = None

    def tests(self) -> tuple[Callable[[ExerciseEntry], bool], ...]:
        region, difficulty, query = self.region, self.difficulty, self.query
        muscle = self.muscle.casefold() if self.muscle else None
        equipment = self.equipment.casefold() if self.equipment else None
        imported = None if self.source is None else self.source is ExerciseSource.IMPORTED
        return (
            lambda e: region is None or region in e.body_regions,
            lambda e: muscle is None or muscle in e.muscles,
            lambda e: equipment is None or equipment in e.equipment,
            lambda e: difficulty is None or e.difficulty == difficulty,
            lambda e: imported is None or e.imported == imported,
            lambda e: matches_query(e.search_text, query),
        )


def _by_name(entry: ExerciseEntry) -> tuple[str, str]:
    return entry.name_text, entry.slug


def _relevance(query: str | None) -> Callable[[ExerciseEntry], tuple[Any, ...]]:
    """Name matches before summary-only matches, authored before imported, then by name."""
    terms = query.casefold().split() if query else []

    def rank(entry: ExerciseEntry) -> tuple[Any, ...]:
        in_name = all(term in entry.name_text for term in terms)
        return (not in_name, entry.imported, entry.name_text, entry.slug)

    return rank


def matching(snapshot: CatalogSnapshot, filters: ExerciseFilters) -> list[ExerciseEntry]:
    """The exercises every filter admits, in no particular order."""
    return keep(snapshot.exercises, *filters.tests())


def search_exercises(
    snapshot: CatalogSnapshot,
    filters: ExerciseFilters,
    sort: ExerciseSort = ExerciseSort.RELEVANCE,
) -> list[ExerciseEntry]:
    found = matching(snapshot, filters)
    if sort is ExerciseSort.RELEVANCE:
        found.sort(key=_relevance(filters.query))
    elif sort is ExerciseSort.DIFFICULTY:
        found.sort(key=lambda e: (DIFFICULTY_RANK.get(e.difficulty, 3), *_by_name(e)))
    else:
        found.sort(key=_by_name, reverse=sort is ExerciseSort.NAME_DESC)
    return found


def facet_counts(entries: Sequence[ExerciseEntry]) -> dict[str, Any]:
    """How many of `entries` carry each region, muscle, equipment and difficulty value.

    Values come most frequent first (then alphabetically), so a filter menu can
    be built from the answer as it stands.
    """
    counters: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for entry in entries:
        counters["region"].update(entry.body_regions)
        counters["muscle"].update(entry.muscles)
        counters["equipment"].update(entry.equipment)
        counters["difficulty"][entry.difficulty] += 1
    return {
        "total": len(entries),
        **{
            name: [
                {"value": value, "count": count}
                for value, count in sorted(counter.items(), key=lambda vc: (-vc[1], vc[0]))
            ]
            for name, counter in counters.items()
        },
    }
