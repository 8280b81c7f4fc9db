"""The published catalogue held in memory, one immutable snapshot per content version.

Content is read far more often than written, so a process loads every
published condition, program and exercise once (a fixed handful of queries,
whatever the catalogue's size) and answers reads from here. Entries keep the
viewer-independent parts ready to serve; only the lock decision is made per
request.

Programs a clinic built for its own patients are loaded too (their patients
follow them like any other), but kept apart: `programs` and `program_by_slug`
hold the public catalogue only, so no listing, search or public lookup can
reach a clinic's program; `clinic_program_by_slug` is consulted only by paths
that first decide the viewer may see it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from app.access.policy import Placement

JSONDict = dict[str, Any]
RENDERED_LIMIT = 4096


def json_members(values: JSONDict) -> bytes:
    """`values` as JSON object members without the braces, ready to splice into an object."""
    return orjson.dumps(values)[1:-1]


@dataclass(frozen=True, slots=True)
class ExerciseEntry:
    """An exercise, its teaser and premium parts serialised once per content version.

    Responses splice these bytes together with the few per-viewer pieces (the
    lock, a signed video link), so rendering an exercise costs almost nothing.
    """

    id: int
    slug: str
    name: str
    teaser_json: bytes  # object members, no braces: "slug":...,"difficulty":...
    premium_json: bytes  # "instructions":[...],"cues":[...],"mistakes":[...],"precautions":[...]
    video_key: str | None
    thumbnail_key: str | None
    body_regions: frozenset[str]
    muscles: frozenset[str]
    equipment: frozenset[str]
    difficulty: str
    search_text: str
    placements: tuple[Placement, ...] = ()
    name_text: str = ""  # the name case-folded: relevance and name order compare it
    imported: bool = False  # from an external library rather than authored here


@dataclass(frozen=True, slots=True)
class StageItem:
    position: int
    dosage: JSONDict
    exercise: ExerciseEntry
    placement: Placement


@dataclass(frozen=True, slots=True)
class StageEntry:
    """A stage; every one of its items shares the same placement (and so one lock decision)."""

    position: int
    name: str
    guidance: str
    rule: JSONDict
    items: tuple[StageItem, ...]


@dataclass(frozen=True, slots=True)
class ProgramEntry:
    id: int
    slug: str
    name: str
    summary: JSONDict
    condition_slugs: frozenset[str]
    stages: tuple[StageEntry, ...]
    search_text: str
    clinic_id: int | None = None  # set: a clinic's own program, never public

    def stage(self, position: int) -> StageEntry | None:
        return self.stages[position - 1] if 1 <= position <= len(self.stages) else None

    def exercise_ids_up_to(self, position: int) -> frozenset[int]:
        """Exercises a person at `position` has met: that stage's and every earlier one's."""
        return frozenset(
            item.exercise.id for stage in self.stages[:position] for item in stage.items
        )


@dataclass(frozen=True, slots=True)
class ConditionEntry:
    id: int
    slug: str
    body_region: str
    summary: JSONDict
    details: JSONDict
    program_slugs: tuple[str, ...]
    related_slugs: tuple[str, ...]
    search_text: str


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    version: int
    conditions: tuple[ConditionEntry, ...] = ()
    programs: tuple[ProgramEntry, ...] = ()  # the public catalogue only
    exercises: tuple[ExerciseEntry, ...] = ()
    condition_by_slug: dict[str, ConditionEntry] = field(default_factory=dict)
    program_by_slug: dict[str, ProgramEntry] = field(default_factory=dict)  # public only
    exercise_by_slug: dict[str, ExerciseEntry] = field(default_factory=dict)
    # Every published program, clinics' included: reached only through an
    # enrollment or a session, which already prove the person follows it.
    program_by_id: dict[int, ProgramEntry] = field(default_factory=dict)
    exercise_by_id: dict[int, ExerciseEntry] = field(default_factory=dict)
    clinic_program_by_slug: dict[str, ProgramEntry] = field(default_factory=dict)
    # Teaser images anyone may fetch without a signed link.
    public_media: frozenset[str] = frozenset()
    # Anonymous response bodies by URL, rendered on first use; they live and die
    # with this snapshot, so a content change can never serve a stale one.
    rendered: dict[str, bytes] = field(default_factory=dict)
    # Personalised pieces that every viewer in the same place shares (a stage's
    # exercise list under one lock decision), rendered on first use.
    fragments: dict[Hashable, bytes] = field(default_factory=dict)

    def any_program(self, slug: str) -> ProgramEntry | None:
        """A public program or a clinic's one; the caller decides whether the viewer may see it."""
        return self.program_by_slug.get(slug) or self.clinic_program_by_slug.get(slug)

    def keep_fragment(self, key: Hashable, body: bytes) -> None:
        if len(self.fragments) >= RENDERED_LIMIT:
            self.fragments.clear()  # many distinct viewers' hints: start again
        self.fragments[key] = body

    def remember(self, key: str, body: bytes) -> None:
        if len(self.rendered) >= RENDERED_LIMIT:
            self.rendered.clear()  # many distinct queries: start again rather than grow
        self.rendered[key] = body

    @classmethod
    def build(
        cls,
        version: int,
        conditions: Iterable[ConditionEntry],
        programs: Iterable[ProgramEntry],
        exercises: Iterable[ExerciseEntry],
    ) -> CatalogSnapshot:
        conditions_ = tuple(conditions)
        all_programs = tuple(programs)
        public = tuple(entry for entry in all_programs if entry.clinic_id is None)
        # Relevance order without a query (authored first, then by name), kept ready so a
        # list needs no sort unless its query splits name matches from summary matches.
        exercises_ = tuple(sorted(exercises, key=lambda e: (e.imported, e.name_text, e.slug)))
        return cls(
            version=version,
            conditions=conditions_,
            programs=public,
            exercises=exercises_,
            condition_by_slug={entry.slug: entry for entry in conditions_},
            program_by_slug={entry.slug: entry for entry in public},
            exercise_by_slug={entry.slug: entry for entry in exercises_},
            program_by_id={entry.id: entry for entry in all_programs},
            exercise_by_id={entry.id: entry for entry in exercises_},
            clinic_program_by_slug={
                entry.slug: entry for entry in all_programs if entry.clinic_id is not None
            },
            public_media=frozenset(e.thumbnail_key for e in exercises_ if e.thumbnail_key),
        )


def search_text(*parts: str) -> str:
    """What `q` is matched against: case-folded, so search ignores case."""
    return " ".join(parts).casefold()


def matches_query(text: str, query: str | None) -> bool:
    """True when every word of `query` occurs in `text` (case-insensitive)."""
    if not query:
        return True
    return all(term in text for term in query.casefold().split())


EntryT = TypeVar("EntryT")


def keep(entries: Sequence[EntryT], *tests: Callable[[EntryT], bool]) -> list[EntryT]:
    return [entry for entry in entries if all(test(entry) for test in tests)]


def filter_conditions(
    snapshot: CatalogSnapshot, *, region: str | None, query: str | None
) -> list[ConditionEntry]:
    return keep(
        snapshot.conditions,
        lambda c: region is None or c.body_region == region,
        lambda c: matches_query(c.search_text, query),
    )


def filter_programs(
    snapshot: CatalogSnapshot, *, condition: str | None, query: str | None
) -> list[ProgramEntry]:
    return keep(
        snapshot.programs,
        lambda p: condition is None or condition in p.condition_slugs,
        lambda p: matches_query(p.search_text, query),
    )
