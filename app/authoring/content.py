"""Applying content: the one writer of the catalogue's tables.

`rehab seed`, the admin API and clinics' own programs share this code. The
whole bundle is validated first (`app.authoring.validation`); then only what
changed is written, so re-applying unchanged content writes nothing, and the
content version is bumped (every process rebuilds its snapshot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, update
from sqlmodel import Session, SQLModel, col, select

from app.authoring.report import ContentError, ContentReport
from app.authoring.validation import (
    ModelT,
    check_enrollments_kept,
    check_integrity,
    check_references,
    ownership_problems,
)
from app.catalog.models import (
    Condition,
    ConditionRelation,
    ContentVersion,
    Exercise,
    Program,
    ProgramCondition,
    Stage,
    StageExercise,
)
from app.catalog.schemas import ConditionIn, ContentBundle, ExerciseIn, ProgramIn, StageIn
from app.core.changes import CONTENT_CHANGED, record
from app.core.models import utcnow


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
    record(session, CONTENT_CHANGED)


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
        + ownership_problems(session, bundle, clinic_id)
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


def _ids_by_slug(session: Session, model: type[ModelT], slugs: set[str]) -> dict[str, int]:
    if not slugs:
        return {}
    rows = session.exec(select(model.slug, model.id).where(col(model.slug).in_(slugs))).all()
    return {slug: id_ for slug, id_ in rows if id_ is not None}


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
