"""Content management rules: documents, their ETags, edits through `apply_content`, the trail.

No FastAPI here. Every write goes through the same validation `rehab seed`
uses (`apply_content` and the removal rules in `app.catalog.service`), runs in
the request's transaction, and adds an audit entry to that same transaction.
Admin routes see the public catalogue only: a clinic's own program answers
404 here, as if it did not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from app.authoring.content import apply_content
from app.authoring.models import AuditAction, AuditEntry
from app.authoring.removal import remove_condition, remove_exercise, remove_program
from app.authoring.report import ContentConflictError
from app.authoring.schemas import StageBodyIn
from app.authoring.validation import describe_enrollments, enrollments_in
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
    ContentBundle,
    DosageIn,
    ExerciseIn,
    ProgramIn,
    RuleIn,
    StageIn,
)
from app.core import http_cache
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.pagination import PageParams
from app.identity.models import User

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
# The audit trail


def record_audit(
    session: Session,
    *,
    actor: User,
    action: AuditAction,
    kind: str,
    slug: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    clinic_id: int | None = None,
) -> AuditEntry:
    """Add one entry to the trail, in the same transaction as the change it describes."""
    entry = AuditEntry(
        actor_id=actor.id,
        actor_email=actor.email,
        action=action,
        kind=kind,
        slug=slug,
        clinic_id=clinic_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def list_audit(
    session: Session,
    *,
    kind: str | None,
    slug: str | None,
    actor: str | None,
    page: PageParams,
) -> tuple[Sequence[AuditEntry], int]:
    """Entries newest first, narrowed to a kind, a slug and an actor's email when given."""
    filters: list[ColumnElement[bool]] = []
    if kind is not None:
        filters.append(col(AuditEntry.kind) == kind)
    if slug is not None:
        filters.append(col(AuditEntry.slug) == slug)
    if actor is not None:
        filters.append(func.lower(col(AuditEntry.actor_email)) == actor.strip().lower())
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*filters)).one()
    entries = session.exec(
        select(AuditEntry)
        .where(*filters)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .offset(page.offset)
        .limit(page.limit)
    ).all()
    return entries, total


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


# ---------------------------------------------------------------------------
# Writing


def _bundle(item: ContentIn) -> ContentBundle:
    if isinstance(item, ConditionIn):
        return ContentBundle(conditions=[item])
    if isinstance(item, ExerciseIn):
        return ContentBundle(exercises=[item])
    return ContentBundle(programs=[item])


def create_content(
    session: Session, *, actor: User, kind: ContentKind, item: ContentIn
) -> Document:
    """Add a new item; its slug must be free (a clinic's program holds its slug too)."""
    model = MODELS[kind]
    if session.exec(select(model.id).where(model.slug == item.slug)).first() is not None:
        raise ConflictError(f"The {kind} slug '{item.slug}' is taken; slugs never change owner.")
    apply_content(session, _bundle(item))
    after = document_of(session, kind, find(session, kind, item.slug))
    record_audit(
        session, actor=actor, action=AuditAction.CREATE, kind=kind, slug=item.slug,
        before=None, after=after,
    )  # fmt: skip
    return after


def update_content(
    session: Session,
    *,
    actor: User,
    kind: ContentKind,
    slug: str,
    item: ContentIn,
    if_match: str | None,
) -> Document:
    """Replace the document `slug`; the path names it and a body slug must agree."""
    if item.slug != slug:
        raise InvalidInputError.for_field(
            "body.slug", f"The slug is the {kind}'s identity and cannot change (it is '{slug}')."
        )
    before = document_of(session, kind, find(session, kind, slug, for_update=True))
    check_if_match(if_match, before)
    apply_content(session, _bundle(item))
    session.expire_all()  # read back what was stored, not what was sent
    after = document_of(session, kind, find(session, kind, slug))
    if after != before:  # an identical PUT changes nothing and leaves no entry
        record_audit(
            session, actor=actor, action=AuditAction.UPDATE, kind=kind, slug=slug,
            before=before, after=after,
        )  # fmt: skip
    return after


REMOVERS: dict[ContentKind, Callable[[Session, Any], None]] = {
    ContentKind.CONDITION: remove_condition,
    ContentKind.EXERCISE: remove_exercise,
    ContentKind.PROGRAM: remove_program,
}


def delete_content(
    session: Session, *, actor: User, kind: ContentKind, slug: str, if_match: str | None
) -> None:
    row = find(session, kind, slug, for_update=True)
    before = document_of(session, kind, row)
    check_if_match(if_match, before)
    REMOVERS[kind](session, row)
    record_audit(
        session, actor=actor, action=AuditAction.DELETE, kind=kind, slug=slug,
        before=before, after=None,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# Stages: each stage write is a write of its program (same ETag, same trail)

StageEdit = Callable[[list[StageIn]], list[StageIn]]


def program_stage(document: Document, position: int) -> Document:
    stages: list[Document] = document["stages"]
    if not 1 <= position <= len(stages):
        raise NotFoundError(f"Program '{document['slug']}' has no stage {position}.")
    return stages[position - 1]


def _stage_at(stage: StageBodyIn, position: int) -> StageIn:
    if stage.position is not None and stage.position != position:
        raise InvalidInputError.for_field(
            "body.position", f"This stage's place is {position}; leave position out or send it."
        )
    try:
        return stage.at(position)
    except ValidationError as exc:
        raise InvalidInputError(
            "The stage is not valid.",
            extra={
                "errors": [
                    {
                        "pointer": ".".join(["body", *(str(p) for p in err["loc"])]),
                        "detail": err["msg"],
                        "type": err["type"],
                    }
                    for err in exc.errors()
                ]
            },
        ) from exc


def _edit_stages(
    session: Session, *, actor: User, slug: str, if_match: str | None, edit: StageEdit
) -> Document:
    row = find(session, ContentKind.PROGRAM, slug, for_update=True)
    before = document_of(session, ContentKind.PROGRAM, row)
    check_if_match(if_match, before)  # before anything else is said about the stages
    program = ProgramIn.model_validate(before)
    changed = program.model_copy(update={"stages": edit(list(program.stages))})
    return update_content(
        session, actor=actor, kind=ContentKind.PROGRAM, slug=slug, item=changed, if_match=if_match
    )


def append_stage(
    session: Session, *, actor: User, slug: str, stage: StageBodyIn, if_match: str | None
) -> tuple[Document, int]:
    """Add a stage after the last one; returns the program and the new stage's position."""
    placed: list[int] = []

    def edit(stages: list[StageIn]) -> list[StageIn]:
        placed.append(len(stages) + 1)
        return [*stages, _stage_at(stage, len(stages) + 1)]

    document = _edit_stages(session, actor=actor, slug=slug, if_match=if_match, edit=edit)
    return document, placed[0]


def replace_stage(
    session: Session,
    *,
    actor: User,
    slug: str,
    position: int,
    stage: StageBodyIn,
    if_match: str | None,
) -> Document:
    def edit(stages: list[StageIn]) -> list[StageIn]:
        if not 1 <= position <= len(stages):
            raise NotFoundError(f"Program '{slug}' has no stage {position}.")
        stages[position - 1] = _stage_at(stage, position)
        return stages

    return _edit_stages(session, actor=actor, slug=slug, if_match=if_match, edit=edit)


def remove_stage(
    session: Session, *, actor: User, slug: str, position: int, if_match: str | None
) -> Document:
    """Take a stage out; later stages move up one place.

    Refused while anyone is at this stage or a later one: their stage number
    would then point at different exercises than the ones they logged.
    """

    def edit(stages: list[StageIn]) -> list[StageIn]:
        if not 1 <= position <= len(stages):
            raise NotFoundError(f"Program '{slug}' has no stage {position}.")
        enrolled = enrollments_in(session, [slug], from_stage=position).get(slug, [])
        if enrolled:
            raise ContentConflictError(
                [
                    f"program '{slug}' stage {position} cannot be removed: people are at it "
                    f"or beyond ({describe_enrollments(enrolled)})"
                ],
                enrollments=enrolled,
            )
        kept = stages[: position - 1] + stages[position:]
        return [item.model_copy(update={"position": n}) for n, item in enumerate(kept, start=1)]

    return _edit_stages(session, actor=actor, slug=slug, if_match=if_match, edit=edit)


# ---------------------------------------------------------------------------
# Media keys: set by uploads, written like any other exercise edit


def set_exercise_media(
    session: Session,
    *,
    actor: User,
    slug: str,
    field: str,
    key: str,
    if_match: str | None,
) -> tuple[Document, bool]:
    """Point the exercise's `field` (video or thumbnail) at `key`; False when it already did."""
    before = exercise_document(_find_exercise(session, slug, for_update=True))
    check_if_match(if_match, before)
    if before[field] == key:
        return before, False
    apply_content(
        session, ContentBundle(exercises=[ExerciseIn.model_validate({**before, field: key})])
    )
    session.expire_all()
    after = exercise_document(_find_exercise(session, slug))
    record_audit(
        session, actor=actor, action=AuditAction.UPLOAD, kind=ContentKind.EXERCISE, slug=slug,
        before=before, after=after,
    )  # fmt: skip
    return after, True


def _find_exercise(session: Session, slug: str, *, for_update: bool = False) -> Exercise:
    row = find(session, ContentKind.EXERCISE, slug, for_update=for_update)
    assert isinstance(row, Exercise)
    return row
