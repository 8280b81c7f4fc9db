"""Content management writes: edits through `apply_content`, each with its audit entry.

No FastAPI here. Every write goes through the same validation `rehab seed`
uses (`apply_content` and the removal rules of `app.authoring.removal`), runs in
the request's transaction, and adds an audit entry to that same transaction.
"""

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from app.authoring.audit import record_audit
from app.authoring.content import apply_content
from app.authoring.documents import (
    MODELS,
    ContentIn,
    ContentKind,
    Document,
    check_if_match,
    document_of,
    exercise_document,
    find,
)
from app.authoring.models import AuditAction
from app.authoring.removal import remove_condition, remove_exercise, remove_program
from app.authoring.report import ContentConflictError
from app.authoring.schemas import StageBodyIn
from app.authoring.validation import describe_enrollments, enrollments_in
from app.catalog.models import (
    Exercise,
)
from app.catalog.schemas import (
    ConditionIn,
    ContentBundle,
    ExerciseIn,
    ProgramIn,
    StageIn,
)
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.identity.models import User

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
