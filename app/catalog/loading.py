"""Loading the published catalogue: a fixed number of statements, whatever its size.

No FastAPI here, and nothing is written: the content version is read to know
when the snapshot in hand is stale; the authoring package writes content and
bumps the version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from sqlmodel import Session, col, select

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

MediaUrl = Callable[[str], str]
PUBLISHED = ContentStatus.PUBLISHED.value


def read_content_version(session: Session) -> int:
    """The current content version (0 before any content was written)."""
    version = session.exec(select(ContentVersion.version).where(ContentVersion.id == 1)).first()
    return version or 0


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
        name_text=row.name.casefold(),
        imported=row.source is not None,
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
