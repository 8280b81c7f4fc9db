"""Catalogue queries and rules: loading the published snapshot, applying content.

No FastAPI here. Loading runs a fixed number of statements whatever the size
of the catalogue; applying content validates the whole bundle first and then
writes only what changed, so re-applying unchanged content writes nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, func, update
from sqlmodel import Session, SQLModel, col, select

from app.access.policy import Placement
from app.catalog.models import (
    Condition,
    ConditionRelation,
    ContentStatus,
    ContentVersion,
    Exercise,
    Program,
    ProgramCondition,
    Stage,
    StageExercise,
)
from app.catalog.schemas import ConditionIn, ContentBundle, ExerciseIn, ProgramIn, StageIn
from app.catalog.snapshot import (
    CatalogSnapshot,
    ConditionEntry,
    ExerciseEntry,
    ProgramEntry,
    StageEntry,
    StageItem,
    json_members,
    search_text,
)
from app.core.errors import ConflictError, InvalidInputError
from app.core.models import utcnow
from app.progress.models import Enrollment, ExerciseRating, SessionEntry, SessionLog

MediaUrl = Callable[[str], str]
PUBLISHED = ContentStatus.PUBLISHED.value

# ---------------------------------------------------------------------------
# Content version


def read_content_version(session: Session) -> int:
    """The current content version (0 before any content was written)."""
    version = session.exec(select(ContentVersion.version).where(ContentVersion.id == 1)).first()
    return version or 0


def bump_content_version(session: Session) -> None:
    """Mark the catalogue changed, so every process rebuilds its snapshot."""
    bumped = session.execute(
        update(ContentVersion)
        .where(col(ContentVersion.id) == 1)
        .values(version=ContentVersion.version + 1, updated_at=utcnow())
        .returning(col(ContentVersion.version))
    ).first()
    if bumped is None:
        session.add(ContentVersion(id=1, version=1))
    session.flush()


# ---------------------------------------------------------------------------
# Loading the published snapshot


def load_snapshot(session: Session, *, media_url: MediaUrl) -> CatalogSnapshot:
    """Read every published item in a fixed number of statements.

    Clinics' published programs are read too (their patients follow them); the
    snapshot keeps them out of every public listing and lookup.
    """
    version = read_content_version(session)
    exercises = session.exec(
        select(Exercise)
        .where(Exercise.status == PUBLISHED)
        .order_by(col(Exercise.name), col(Exercise.slug))
    ).all()
    conditions = session.exec(
        select(Condition)
        .where(Condition.status == PUBLISHED)
        .order_by(col(Condition.name), col(Condition.slug))
    ).all()
    programs = session.exec(
        select(Program)
        .where(Program.status == PUBLISHED)
        .order_by(col(Program.name), col(Program.slug))
    ).all()
    program_ids = [p.id for p in programs]
    stages = session.exec(
        select(Stage)
        .where(col(Stage.program_id).in_(program_ids))
        .order_by(col(Stage.program_id), col(Stage.position))
    ).all()
    placements = session.exec(
        select(StageExercise)
        .join(Stage, col(Stage.id) == StageExercise.stage_id)
        .where(col(Stage.program_id).in_(program_ids))
        .order_by(col(StageExercise.stage_id), col(StageExercise.position))
    ).all()
    program_conditions = session.exec(
        select(ProgramCondition).order_by(
            col(ProgramCondition.program_id), col(ProgramCondition.position)
        )
    ).all()
    relations = session.exec(
        select(ConditionRelation).order_by(
            col(ConditionRelation.condition_id), col(ConditionRelation.position)
        )
    ).all()
    return _assemble(
        version=version,
        exercises=exercises,
        conditions=conditions,
        programs=programs,
        stages=stages,
        stage_exercises=placements,
        program_conditions=program_conditions,
        relations=relations,
        media_url=media_url,
    )


def _assemble(
    *,
    version: int,
    exercises: Sequence[Exercise],
    conditions: Sequence[Condition],
    programs: Sequence[Program],
    stages: Sequence[Stage],
    stage_exercises: Sequence[StageExercise],
    program_conditions: Sequence[ProgramCondition],
    relations: Sequence[ConditionRelation],
    media_url: MediaUrl,
) -> CatalogSnapshot:
    condition_slug = {c.id: c.slug for c in conditions}
    program_by_id = {p.id: p for p in programs}
    exercise_row = {e.id: e for e in exercises}

    stage_rows: dict[int, list[Stage]] = defaultdict(list)
    for stage in stages:
        stage_rows[stage.program_id].append(stage)
    items_by_stage: dict[int, list[StageExercise]] = defaultdict(list)
    for item in stage_exercises:
        if item.exercise_id in exercise_row:  # a draft exercise stays out of programs
            items_by_stage[item.stage_id].append(item)

    # Where each exercise sits, so the standalone view can ask every context.
    exercise_placements: dict[int, list[Placement]] = defaultdict(list)
    placement_of: dict[int, Placement] = {}
    for stage in stages:
        program = program_by_id[stage.program_id]
        assert stage.id is not None
        assert program.id is not None
        placement = Placement(
            program_id=program.id,
            program_name=program.name,
            stage_position=stage.position,
            stage_name=stage.name,
            clinic_id=program.clinic_id,
        )
        placement_of[stage.id] = placement
        for item in items_by_stage[stage.id]:
            exercise_placements[item.exercise_id].append(placement)

    exercise_entries = {
        row.id: _exercise_entry(row, tuple(exercise_placements[row.id]), media_url)
        for row in exercises
        if row.id is not None
    }

    conditions_of_program: dict[int, list[str]] = defaultdict(list)
    programs_of_condition: dict[int, list[int]] = defaultdict(list)
    for link in program_conditions:
        linked = program_by_id.get(link.program_id)
        # A clinic's program is never listed under a public condition.
        if linked and linked.clinic_id is None and link.condition_id in condition_slug:
            conditions_of_program[link.program_id].append(condition_slug[link.condition_id])
            programs_of_condition[link.condition_id].append(link.program_id)

    program_entries: dict[int, ProgramEntry] = {}
    for program in programs:
        assert program.id is not None
        stage_entries = tuple(
            _stage_entry(stage, items_by_stage[stage.id or 0], exercise_entries, placement_of)
            for stage in stage_rows[program.id]
        )
        program_entries[program.id] = _program_entry(
            program, stage_entries, conditions_of_program[program.id]
        )

    related: dict[int, list[str]] = defaultdict(list)
    for relation in relations:
        if relation.condition_id in condition_slug and relation.related_id in condition_slug:
            related[relation.condition_id].append(condition_slug[relation.related_id])

    condition_entries = [
        _condition_entry(
            condition,
            program_slugs=[
                program_entries[pid].slug
                for pid in sorted(
                    programs_of_condition[condition.id or 0],
                    key=lambda pid: (program_by_id[pid].name, program_by_id[pid].slug),
                )
            ],
            related_slugs=related[condition.id or 0],
        )
        for condition in conditions
    ]
    return CatalogSnapshot.build(
        version,
        conditions=condition_entries,
        programs=program_entries.values(),
        exercises=exercise_entries.values(),
    )


def _exercise_entry(
    row: Exercise, placements: tuple[Placement, ...], media_url: MediaUrl
) -> ExerciseEntry:
    assert row.id is not None
    teaser = {
        "slug": row.slug,
        "name": row.name,
        "summary": row.summary,
        "thumbnail_url": media_url(row.thumbnail) if row.thumbnail else None,
        "body_regions": list(row.body_regions),
        "muscles": list(row.muscles),
        "equipment": list(row.equipment),
        "difficulty": str(row.difficulty),
    }
    premium = {
        "instructions": list(row.instructions),
        "cues": list(row.cues),
        "mistakes": list(row.mistakes),
        "precautions": list(row.precautions),
    }
    return ExerciseEntry(
        id=row.id,
        slug=row.slug,
        name=row.name,
        teaser_json=json_members(teaser),
        premium_json=json_members(premium),
        video_key=row.video,
        thumbnail_key=row.thumbnail,
        body_regions=frozenset(row.body_regions),
        muscles=frozenset(m.casefold() for m in row.muscles),
        equipment=frozenset(e.casefold() for e in row.equipment),
        difficulty=str(row.difficulty),
        search_text=search_text(row.name, row.summary),
        placements=placements,
    )


def _stage_entry(
    stage: Stage,
    items: Iterable[StageExercise],
    exercises: dict[int, ExerciseEntry],
    placement_of: dict[int, Placement],
) -> StageEntry:
    assert stage.id is not None
    placement = placement_of[stage.id]
    return StageEntry(
        position=stage.position,
        name=stage.name,
        guidance=stage.guidance,
        rule={
            "min_days": stage.min_days,
            "min_sessions": stage.min_sessions,
            "all_exercises_easy": stage.all_exercises_easy,
            "max_pain": stage.max_pain,
        },
        items=tuple(
            StageItem(
                position=item.position,
                dosage={
                    "sets": item.sets,
                    "reps": item.reps,
                    "hold_seconds": item.hold_seconds,
                    "sides": str(item.sides),
                    "times_per_day": item.times_per_day,
                    "days_per_week": item.days_per_week,
                    "notes": item.notes,
                },
                exercise=exercises[item.exercise_id],
                placement=placement,
            )
            for item in items
        ),
    )


def _program_entry(
    program: Program, stages: tuple[StageEntry, ...], condition_slugs: list[str]
) -> ProgramEntry:
    assert program.id is not None
    distinct_exercises = {item.exercise.id for stage in stages for item in stage.items}
    return ProgramEntry(
        id=program.id,
        slug=program.slug,
        name=program.name,
        summary={
            "slug": program.slug,
            "name": program.name,
            "description": program.description,
            "conditions": condition_slugs,
            "stage_count": len(stages),
            "exercise_count": len(distinct_exercises),
        },
        condition_slugs=frozenset(condition_slugs),
        stages=stages,
        search_text=search_text(program.name, program.description),
        clinic_id=program.clinic_id,
    )


def _condition_entry(
    condition: Condition, *, program_slugs: list[str], related_slugs: list[str]
) -> ConditionEntry:
    assert condition.id is not None
    return ConditionEntry(
        id=condition.id,
        slug=condition.slug,
        body_region=str(condition.body_region),
        summary={
            "slug": condition.slug,
            "name": condition.name,
            "body_region": str(condition.body_region),
            "summary": condition.summary,
        },
        details={
            "description": condition.description,
            "symptoms": list(condition.symptoms),
            "causes": list(condition.causes),
            "disclaimer": condition.disclaimer,
        },
        program_slugs=tuple(program_slugs),
        related_slugs=tuple(related_slugs),
        search_text=search_text(condition.name, condition.summary),
    )


# ---------------------------------------------------------------------------
# Applying content: `rehab seed` and the admins' API share this code


@dataclass
class ContentReport:
    """What applying a bundle did, per kind: slugs created and updated, count unchanged."""

    created: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    updated: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def record(self, kind: str, slug: str, outcome: str) -> None:
        if outcome == "created":
            self.created[kind].append(slug)
        elif outcome == "updated":
            self.updated[kind].append(slug)
        else:
            self.unchanged[kind] += 1

    def summary(self) -> str:
        kinds = ("exercise", "condition", "program")
        parts = [
            f"{kind}s: {len(self.created[kind])} created, {len(self.updated[kind])} updated, "
            f"{self.unchanged[kind]} unchanged"
            for kind in kinds
        ]
        return "; ".join(parts)


class ContentError(InvalidInputError):
    """Content that would leave the catalogue broken; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the content; nothing was written.",
            extra={"problems": problems},
        )
        self.problems = problems

    def __str__(self) -> str:
        return "\n  - ".join([self.detail, *self.problems])


class ContentConflictError(ConflictError):
    """A change that would break what people or other content rely on; nothing was written.

    `problems` says what is in the way in words; the extra members (`enrollments`,
    `programs`, ...) name the rows, so a client can show or act on them.
    """

    def __init__(self, problems: list[str], **named: Any) -> None:
        super().__init__(
            f"{len(problems)} conflict(s) with content in use; nothing was written.",
            extra={"problems": problems, **named},
        )
        self.problems = problems


def check_integrity(bundle: ContentBundle) -> list[str]:
    """Rules each item keeps on its own (what the input models cannot see alone)."""
    return [
        f"program '{program.slug}': a published program needs at least one stage"
        for program in bundle.programs
        if program.status == ContentStatus.PUBLISHED and not program.stages
    ]


def check_references(session: Session, bundle: ContentBundle) -> list[str]:
    """Every slug a bundle points at must exist in the bundle or the database."""
    condition_slugs = {c.slug for c in bundle.conditions} | _existing_slugs(session, Condition)
    exercise_slugs = {e.slug for e in bundle.exercises} | _existing_slugs(session, Exercise)
    problems = [
        f"condition '{c.slug}': related condition '{slug}' does not exist"
        for c in bundle.conditions
        for slug in c.related
        if slug not in condition_slugs
    ]
    for program in bundle.programs:
        problems += [
            f"program '{program.slug}': condition '{slug}' does not exist"
            for slug in program.conditions
            if slug not in condition_slugs
        ]
        problems += [
            f"program '{program.slug}' stage {stage.position}: "
            f"exercise '{item.exercise}' does not exist"
            for stage in program.stages
            for item in stage.exercises
            if item.exercise not in exercise_slugs
        ]
    problems += [
        f"exercise '{slug}' is an imported exercise; authored content cannot replace it"
        for slug in session.exec(
            select(Exercise.slug).where(
                col(Exercise.slug).in_([e.slug for e in bundle.exercises]),
                col(Exercise.source).is_not(None),
            )
        )
    ]
    for kind, items in (
        ("condition", bundle.conditions),
        ("exercise", bundle.exercises),
        ("program", bundle.programs),
    ):
        problems += [f"{kind} '{slug}' is defined more than once" for slug in _dupes(items)]
    return problems


def apply_content(
    session: Session, bundle: ContentBundle, *, clinic_id: int | None = None
) -> ContentReport:
    """Create or update everything in `bundle` by slug; bump the version if anything changed.

    With `clinic_id`, the bundle's programs belong to that clinic: they are created as
    its own, and a slug held by the public catalogue or another clinic is refused.
    """
    problems = (
        check_integrity(bundle)
        + check_references(session, bundle)
        + _ownership_problems(session, bundle, clinic_id)
    )
    if problems:
        raise ContentError(problems)
    check_enrollments_kept(session, bundle.programs)
    report = ContentReport()
    exercise_ids = _upsert_by_slug(session, Exercise, bundle.exercises, _exercise_values, report)
    condition_ids = _upsert_by_slug(
        session, Condition, bundle.conditions, _condition_values, report
    )
    condition_ids |= _ids_by_slug(session, Condition, _referenced_conditions(bundle))
    exercise_ids |= _ids_by_slug(session, Exercise, _referenced_exercises(bundle))
    for condition in bundle.conditions:
        if _sync_relations(session, condition, condition_ids):
            _mark_updated(report, "condition", condition.slug)
    program_ids = _upsert_by_slug(
        session,
        Program,
        bundle.programs,
        lambda item: {**_program_values(item), "clinic_id": clinic_id},
        report,
    )
    for program in bundle.programs:
        changed = _sync_program_conditions(session, program, program_ids, condition_ids)
        changed |= _sync_stages(session, program, program_ids[program.slug], exercise_ids)
        if changed:
            _mark_updated(report, "program", program.slug)
    if report.changed:
        bump_content_version(session)
    return report


def enrollments_in(
    session: Session, program_slugs: Sequence[str], *, from_stage: int = 1
) -> dict[str, list[dict[str, Any]]]:
    """Who follows each program at `from_stage` or beyond, in the shape conflicts name them."""
    if not program_slugs:
        return {}
    rows = session.exec(
        select(Program.slug, Enrollment)
        .join(Enrollment, col(Enrollment.program_id) == Program.id)
        .where(col(Program.slug).in_(program_slugs), Enrollment.current_stage >= from_stage)
        .order_by(col(Enrollment.id))
    ).all()
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for slug, row in rows:
        found[slug].append(
            {"id": row.id, "user_id": row.user_id, "program": slug, "stage": row.current_stage}
        )
    return found


def check_enrollments_kept(session: Session, programs: Sequence[ProgramIn]) -> None:
    """People following a program keep it, and keep the stage they are at.

    Unpublishing would take the program away from them, and fewer stages than
    someone's current one would leave them at a stage that no longer exists:
    both are refused, naming the enrollments in the way.
    """
    enrolled = enrollments_in(session, [program.slug for program in programs])
    problems: list[str] = []
    in_the_way: list[dict[str, Any]] = []
    for program in programs:
        people = enrolled.get(program.slug, [])
        if program.status == ContentStatus.DRAFT:
            reason = "cannot become a draft while people follow it"
        else:
            last = len(program.stages)
            people = [item for item in people if item["stage"] > last]
            reason = f"cannot end at stage {last}: people are at a later stage"
        if people:
            problems.append(f"program '{program.slug}' {reason} ({describe_enrollments(people)})")
            in_the_way += people
    if problems:
        raise ContentConflictError(problems, enrollments=in_the_way)


def describe_enrollments(enrolled: list[dict[str, Any]]) -> str:
    ids = ", ".join(str(item["id"]) for item in enrolled)
    return f"{len(enrolled)} enrollment(s): {ids}"


def _ownership_problems(
    session: Session, bundle: ContentBundle, clinic_id: int | None
) -> list[str]:
    """A program is written only by its owner: the catalogue's editors or one clinic."""
    slugs = [program.slug for program in bundle.programs]
    owners = session.exec(
        select(Program.slug, Program.clinic_id).where(col(Program.slug).in_(slugs))
    ).all()
    problems = [
        f"program '{slug}': the slug is already taken"
        for slug, owner in owners
        if owner != clinic_id
    ]
    if clinic_id is None:
        problems += [
            f"program '{program.slug}': a catalogue program belongs to at least one condition"
            for program in bundle.programs
            if not program.conditions
        ]
        problems += [
            f"program '{program.slug}': slugs starting 'clinic-<number>-' are kept for "
            "clinics' own programs"
            for program in bundle.programs
            if CLINIC_PROGRAM_SLUG.match(program.slug)
        ]
    return problems


# How clinics' own programs are stored (`clinic-12-knee-plan`): kept out of the
# catalogue, so a clinic never finds its chosen name taken by a public program.
CLINIC_PROGRAM_SLUG = re.compile(r"clinic-[0-9]+-")

ModelT = TypeVar("ModelT", Condition, Exercise, Program)


def _existing_slugs(session: Session, model: type[ModelT]) -> set[str]:
    return set(session.exec(select(model.slug)).all())


def _ids_by_slug(session: Session, model: type[ModelT], slugs: set[str]) -> dict[str, int]:
    if not slugs:
        return {}
    rows = session.exec(select(model.slug, model.id).where(col(model.slug).in_(slugs))).all()
    return {slug: id_ for slug, id_ in rows if id_ is not None}


def _dupes(items: Sequence[ConditionIn | ExerciseIn | ProgramIn]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for item in items:
        if item.slug in seen and item.slug not in dupes:
            dupes.append(item.slug)
        seen.add(item.slug)
    return dupes


def _referenced_conditions(bundle: ContentBundle) -> set[str]:
    return {s for c in bundle.conditions for s in c.related} | {
        s for p in bundle.programs for s in p.conditions
    }


def _referenced_exercises(bundle: ContentBundle) -> set[str]:
    return {item.exercise for p in bundle.programs for st in p.stages for item in st.exercises}


def _exercise_values(item: ExerciseIn) -> dict[str, Any]:
    return item.model_dump(mode="json")


def _condition_values(item: ConditionIn) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude={"related"})


def _program_values(item: ProgramIn) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude={"conditions", "stages"})


InputT = TypeVar("InputT", ConditionIn, ExerciseIn, ProgramIn)


def _upsert_by_slug(
    session: Session,
    model: type[ModelT],
    items: Sequence[InputT],
    values_of: Callable[[InputT], dict[str, Any]],
    report: ContentReport,
) -> dict[str, int]:
    kind = model.__tablename__
    assert isinstance(kind, str)
    slugs = [item.slug for item in items]
    existing = {
        row.slug: row for row in session.exec(select(model).where(col(model.slug).in_(slugs)))
    }
    for item in items:
        values = values_of(item)
        row = existing.get(item.slug)
        if row is None:
            row = model(**values)
            session.add(row)
            existing[item.slug] = row
            report.record(kind, item.slug, "created")
        elif assign_changes(row, values):
            row.updated_at = utcnow()
            report.record(kind, item.slug, "updated")
        else:
            report.record(kind, item.slug, "unchanged")
    session.flush()
    return {slug: row.id for slug, row in existing.items() if row.id is not None}


def assign_changes(row: SQLModel, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _mark_updated(report: ContentReport, kind: str, slug: str) -> None:
    if slug in report.created[kind] or slug in report.updated[kind]:
        return
    report.updated[kind].append(slug)
    report.unchanged[kind] -= 1


LinkModel = type[ConditionRelation] | type[ProgramCondition]


def _sync_links(
    session: Session,
    model: LinkModel,
    *,
    owner: str,
    target: str,
    owner_id: int,
    target_ids: list[int],
) -> bool:
    """Make `owner_id`'s ordered links to `target_ids` exactly so; True when they changed."""
    owner_column, target_column = getattr(model, owner), getattr(model, target)
    current = session.exec(
        select(target_column).where(owner_column == owner_id).order_by(col(model.position))
    ).all()
    if list(current) == target_ids:
        return False
    session.execute(delete(model).where(owner_column == owner_id))
    session.add_all(
        model(**{owner: owner_id, target: target_id, "position": position})
        for position, target_id in enumerate(target_ids)
    )
    session.flush()
    return True


def _sync_relations(session: Session, condition: ConditionIn, ids: dict[str, int]) -> bool:
    return _sync_links(
        session,
        ConditionRelation,
        owner="condition_id",
        target="related_id",
        owner_id=ids[condition.slug],
        target_ids=[ids[slug] for slug in condition.related],
    )


def _sync_program_conditions(
    session: Session, program: ProgramIn, program_ids: dict[str, int], condition_ids: dict[str, int]
) -> bool:
    return _sync_links(
        session,
        ProgramCondition,
        owner="program_id",
        target="condition_id",
        owner_id=program_ids[program.slug],
        target_ids=[condition_ids[slug] for slug in program.conditions],
    )


def _sync_stages(
    session: Session, program: ProgramIn, program_id: int, exercise_ids: dict[str, int]
) -> bool:
    """Update stages in place by position, so anything that points at a stage keeps it."""
    current = {
        stage.position: stage
        for stage in session.exec(select(Stage).where(Stage.program_id == program_id))
    }
    changed = False
    for stage_in in program.stages:
        stage = current.pop(stage_in.position, None)
        values = {
            "name": stage_in.name,
            "guidance": stage_in.guidance,
            **stage_in.rule.model_dump(),
        }
        if stage is None:
            stage = Stage(program_id=program_id, position=stage_in.position, **values)
            session.add(stage)
            session.flush()
            changed = True
        else:
            changed |= assign_changes(stage, values)
        assert stage.id is not None
        changed |= _sync_stage_exercises(session, stage.id, stage_in, exercise_ids)
    for leftover in current.values():
        session.delete(leftover)
        changed = True
    session.flush()
    return changed


def _sync_stage_exercises(
    session: Session, stage_id: int, stage_in: StageIn, exercise_ids: dict[str, int]
) -> bool:
    wanted = [
        {
            "exercise_id": exercise_ids[item.exercise],
            "position": position,
            **item.model_dump(mode="json", exclude={"exercise"}),
        }
        for position, item in enumerate(stage_in.exercises, start=1)
    ]
    rows = session.exec(
        select(StageExercise)
        .where(StageExercise.stage_id == stage_id)
        .order_by(col(StageExercise.position))
    ).all()
    current = [{name: getattr(row, name) for name in wanted[0]} for row in rows] if wanted else []
    if current == wanted:
        return False
    session.execute(delete(StageExercise).where(col(StageExercise.stage_id) == stage_id))
    session.flush()
    session.add_all(StageExercise(stage_id=stage_id, **values) for values in wanted)
    session.flush()
    return True


# ---------------------------------------------------------------------------
# Removing content: refused while people or other content rely on it


def _count(session: Session, model: type[SQLModel], *conditions: Any) -> int:
    return session.exec(select(func.count()).select_from(model).where(*conditions)).one()


def remove_exercise(session: Session, exercise: Exercise) -> None:
    """Delete an exercise no program places and no one has logged; bump the version."""
    placed = session.exec(
        select(Program.slug, Stage.position)
        .join(Stage, col(Stage.program_id) == Program.id)
        .join(StageExercise, col(StageExercise.stage_id) == Stage.id)
        .where(StageExercise.exercise_id == exercise.id)
        .order_by(col(Program.slug), col(Stage.position))
    ).all()
    problems = [
        f"exercise '{exercise.slug}' is placed in program '{slug}' stage {position}"
        for slug, position in placed
    ]
    logged = _count(session, SessionEntry, col(SessionEntry.exercise_id) == exercise.id)
    logged += _count(session, ExerciseRating, col(ExerciseRating.exercise_id) == exercise.id)
    if logged:
        problems.append(
            f"exercise '{exercise.slug}' is in people's logged sessions; "
            "set it to draft to retire it and keep their history"
        )
    if problems:
        raise ContentConflictError(problems, programs=sorted({slug for slug, _ in placed}))
    session.execute(delete(Exercise).where(col(Exercise.id) == exercise.id))
    bump_content_version(session)


def remove_condition(session: Session, condition: Condition) -> None:
    """Delete a condition no program belongs to and no condition points at; bump the version."""
    programs = session.exec(
        select(Program.slug)
        .join(ProgramCondition, col(ProgramCondition.program_id) == Program.id)
        .where(ProgramCondition.condition_id == condition.id)
        .order_by(col(Program.slug))
    ).all()
    pointing = session.exec(
        select(Condition.slug)
        .join(ConditionRelation, col(ConditionRelation.condition_id) == Condition.id)
        .where(ConditionRelation.related_id == condition.id)
        .order_by(col(Condition.slug))
    ).all()
    problems = [f"program '{slug}' belongs to condition '{condition.slug}'" for slug in programs]
    problems += [f"condition '{slug}' lists '{condition.slug}' as related" for slug in pointing]
    if problems:
        raise ContentConflictError(problems, programs=list(programs), conditions=list(pointing))
    session.execute(delete(Condition).where(col(Condition.id) == condition.id))
    bump_content_version(session)


def remove_program(session: Session, program: Program) -> None:
    """Delete a program no one follows or has logged sessions in; bump the version.

    A program with history is retired by setting it to draft once no one
    follows it: deleting it would take that history with it.
    """
    enrolled = enrollments_in(session, [program.slug]).get(program.slug, [])
    problems = (
        [f"program '{program.slug}' is followed by {describe_enrollments(enrolled)}"]
        if enrolled
        else []
    )
    if _count(session, SessionLog, col(SessionLog.program_id) == program.id):
        problems.append(
            f"program '{program.slug}' has logged sessions; "
            "set it to draft to retire it and keep their history"
        )
    if problems:
        raise ContentConflictError(problems, enrollments=enrolled)
    session.execute(delete(Program).where(col(Program.id) == program.id))
    bump_content_version(session)
