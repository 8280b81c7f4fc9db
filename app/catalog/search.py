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

    def tests(self) -> list[Callable[[ExerciseEntry], bool]]:
        """One test per filter given: an unfiltered list costs no test at all."""
        tests: list[Callable[[ExerciseEntry], bool]] = []
        if (region := self.region) is not None:
            tests.append(lambda e: region in e.body_regions)
        if self.muscle:
            muscle = self.muscle.casefold()
            tests.append(lambda e: muscle in e.muscles)
        if self.equipment:
            equipment = self.equipment.casefold()
            tests.append(lambda e: equipment in e.equipment)
        if (difficulty := self.difficulty) is not None:
            tests.append(lambda e: e.difficulty == difficulty)
        if self.source is not None:
            imported = self.source is ExerciseSource.IMPORTED
            tests.append(lambda e: e.imported == imported)
        if (query := self.query) is not None:
            tests.append(lambda e: matches_query(e.search_text, query))
        return tests


def _by_name(entry: ExerciseEntry) -> tuple[str, str]:
    return entry.name_text, entry.slug


def _summary_only(terms: list[str]) -> Callable[[ExerciseEntry], bool]:
    """False for an exercise whose name holds every term: it sorts first."""
    return lambda entry: not all(term in entry.name_text for term in terms)


def matching(snapshot: CatalogSnapshot, filters: ExerciseFilters) -> list[ExerciseEntry]:
    """The exercises every filter admits, in the snapshot's (relevance) order."""
    tests = filters.tests()
    return keep(snapshot.exercises, *tests) if tests else list(snapshot.exercises)


def search_exercises(
    snapshot: CatalogSnapshot,
    filters: ExerciseFilters,
    sort: ExerciseSort = ExerciseSort.RELEVANCE,
) -> list[ExerciseEntry]:
    found = matching(snapshot, filters)
    if sort is ExerciseSort.RELEVANCE:
        # The snapshot is in relevance order already (authored first, then by name); a
        # stable sort on "matched on the summary alone" keeps that order within each part.
        terms = filters.query.casefold().split() if filters.query else []
        if terms:
            found.sort(key=_summary_only(terms))
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
