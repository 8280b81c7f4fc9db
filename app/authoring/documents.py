"""Content as documents: the stored rows in the shape seed files and PUT bodies use.

A document's ETag is a hash of the document itself, so any edit, by anyone,
changes it. Admin routes see the public catalogue only: a clinic's own program
answers 404 here, as if it did not exist.
"""

import hashlib
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from app.catalog.models import (
    Condition,
    ConditionRelation,
    ContentStatus,
    Exercise,
    Program,
    ProgramCondition,
    Stage,
    StageExercise,
)
from app.catalog.schemas import (
    ConditionIn,
    DosageIn,
    ExerciseIn,
    ProgramIn,
    RuleIn,
)
from app.core import http_cache
from app.core.errors import NotFoundError
from app.core.pagination import PageParams

Document = dict[str, Any]
ContentRow = Condition | Exercise | Program
ContentIn = ConditionIn | ExerciseIn | ProgramIn


class ContentKind(StrEnum):
    CONDITION = "condition"
    EXERCISE = "exercise"
    PROGRAM = "program"


MODELS: dict[ContentKind, type[ContentRow]] = {
    ContentKind.CONDITION: Condition,
    ContentKind.EXERCISE: Exercise,
    ContentKind.PROGRAM: Program,
}


# ---------------------------------------------------------------------------
# Documents: the stored content in the shape seed files and PUT bodies use


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def _fields_of(row: Any, model: type[BaseModel], *, skip: frozenset[str] = frozenset()) -> Document:
    return {name: _plain(getattr(row, name)) for name in model.model_fields if name not in skip}


def exercise_document(row: Exercise) -> Document:
    return _fields_of(row, ExerciseIn)


def condition_document(session: Session, row: Condition) -> Document:
    related = session.exec(
        select(Condition.slug)
        .join(ConditionRelation, col(ConditionRelation.related_id) == Condition.id)
        .where(ConditionRelation.condition_id == row.id)
        .order_by(col(ConditionRelation.position))
    ).all()
    return {**_fields_of(row, ConditionIn, skip=frozenset({"related"})), "related": list(related)}


def program_document(session: Session, row: Program) -> Document:
    assert row.id is not None
    conditions = session.exec(
        select(Condition.slug)
        .join(ProgramCondition, col(ProgramCondition.condition_id) == Condition.id)
        .where(ProgramCondition.program_id == row.id)
        .order_by(col(ProgramCondition.position))
    ).all()
    return {
        **_fields_of(row, ProgramIn, skip=frozenset({"conditions", "stages"})),
        "conditions": list(conditions),
        "stages": stage_documents(session, row.id),
    }


def stage_documents(session: Session, program_id: int) -> list[Document]:
    """A program's stages as written (rule, exercises with dosage), in two statements."""
    stages = session.exec(
        select(Stage).where(Stage.program_id == program_id).order_by(col(Stage.position))
    ).all()
    placements = session.exec(
        select(StageExercise, Exercise.slug)
        .join(Exercise, col(Exercise.id) == StageExercise.exercise_id)
        .join(Stage, col(Stage.id) == StageExercise.stage_id)
        .where(Stage.program_id == program_id)
        .order_by(col(StageExercise.stage_id), col(StageExercise.position))
    ).all()
    items: dict[int, list[Document]] = {stage.id or 0: [] for stage in stages}
    for placement, exercise_slug in placements:
        dosage = _fields_of(placement, DosageIn, skip=frozenset({"exercise"}))
        items[placement.stage_id].append({"exercise": exercise_slug, **dosage})
    return [
        {
            "position": stage.position,
            "name": stage.name,
            "guidance": stage.guidance,
            "rule": _fields_of(stage, RuleIn),
            "exercises": items[stage.id or 0],
        }
        for stage in stages
    ]


def document_of(session: Session, kind: ContentKind, row: ContentRow) -> Document:
    if isinstance(row, Exercise):
        return exercise_document(row)
    if isinstance(row, Condition):
        return condition_document(session, row)
    return program_document(session, row)


def etag_of(document: Document) -> str:
    """A strong validator derived from the stored document itself (canonical JSON)."""
    digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f'"{digest[:32]}"'


def check_if_match(if_match: str | None, document: Document) -> None:
    """A write must name the version of the document it was made from: missing 428, stale 412."""
    http_cache.check_if_match(if_match, etag_of(document))


# ---------------------------------------------------------------------------
# Reading


def find(session: Session, kind: ContentKind, slug: str, *, for_update: bool = False) -> ContentRow:
    """The catalogue item `slug` of `kind`, or 404 (a clinic's own program is not one)."""
    model = MODELS[kind]
    statement = select(model).where(model.slug == slug)
    if model is Program:
        statement = statement.where(col(Program.clinic_id).is_(None))
    if for_update:  # two editors with the same ETag: the second waits, then gets 412
        statement = statement.with_for_update()
    row = session.exec(statement).first()
    if row is None:
        raise NotFoundError(f"No {kind} with slug '{slug}'.")
    assert isinstance(row, Condition | Exercise | Program)
    return row


def list_content(
    session: Session,
    kind: ContentKind,
    *,
    status: ContentStatus | None,
    query: str | None,
    page: PageParams,
) -> tuple[Sequence[ContentRow], int]:
    """Drafts and published alike, by name; `query` words must all occur in name or slug."""
    model = MODELS[kind]
    filters: list[ColumnElement[bool]] = []
    if model is Program:
        filters.append(col(Program.clinic_id).is_(None))
    if status is not None:
        filters.append(col(model.status) == status.value)
    for word in (query or "").casefold().split():
        filters.append(
            or_(
                func.lower(col(model.name)).contains(word, autoescape=True),
                col(model.slug).contains(word, autoescape=True),
            )
        )
    total = session.exec(select(func.count()).select_from(model).where(*filters)).one()
    rows = session.exec(
        select(model)
        .where(*filters)
        .order_by(col(model.name), col(model.slug))
        .offset(page.offset)
        .limit(page.limit)
    ).all()
    return [row for row in rows if isinstance(row, Condition | Exercise | Program)], total
