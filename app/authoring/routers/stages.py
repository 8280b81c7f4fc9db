"""A program's stages for admins: each stage is edited as part of its program (its ETag)."""

from __future__ import annotations

from fastapi import Response

from app.authoring import service
from app.authoring.deps import (
    PREFIX,
    READ_ERRORS,
    WRITE_ERRORS,
    IfMatchHeader,
    PositionPath,
    SlugPath,
    admin_router,
    document_response,
)
from app.authoring.documents import ContentKind, Document, document_of, etag_of, find
from app.authoring.schemas import StageBodyIn
from app.catalog.schemas import StageIn
from app.core.deps import ReadSessionDep, SessionDep
from app.identity.deps import AdminDep

router = admin_router()


def _stage_response(document: Document, position: int, *, status: int = 200) -> Response:
    """A stage, with its program's ETag: a stage is edited as part of its program."""
    location = f"{PREFIX}/programs/{document['slug']}/stages/{position}" if status == 201 else None
    stage = service.program_stage(document, position)
    return document_response(document, status=status, location=location, part=stage)


@router.post(
    "/programs/{slug}/stages",
    name="admin_append_stage",
    status_code=201,
    response_model=StageIn,
    responses=WRITE_ERRORS,
)
def append_stage(
    session: SessionDep,
    admin: AdminDep,
    slug: SlugPath,
    body: StageBodyIn,
    if_match: IfMatchHeader,
) -> Response:
    """Add a stage after the last one (If-Match: the program's ETag)."""
    document, position = service.append_stage(
        session, actor=admin, slug=slug, stage=body, if_match=if_match
    )
    return _stage_response(document, position, status=201)


@router.get(
    "/programs/{slug}/stages/{position}",
    name="admin_get_stage",
    response_model=StageIn,
    responses=READ_ERRORS,
)
def get_stage(session: ReadSessionDep, slug: SlugPath, position: PositionPath) -> Response:
    """One stage of a program. Its ETag is the program's: a stage write is a write of its
    program."""
    program = find(session, ContentKind.PROGRAM, slug)
    return _stage_response(document_of(session, ContentKind.PROGRAM, program), position)


@router.put(
    "/programs/{slug}/stages/{position}",
    name="admin_update_stage",
    response_model=StageIn,
    responses=WRITE_ERRORS,
)
def update_stage(
    session: SessionDep,
    admin: AdminDep,
    slug: SlugPath,
    position: PositionPath,
    body: StageBodyIn,
    if_match: IfMatchHeader,
) -> Response:
    """Replace one stage: its rule, guidance and exercises with their dosage."""
    document = service.replace_stage(
        session, actor=admin, slug=slug, position=position, stage=body, if_match=if_match
    )
    return _stage_response(document, position)


@router.delete(
    "/programs/{slug}/stages/{position}",
    name="admin_delete_stage",
    status_code=204,
    responses=WRITE_ERRORS,
)
def delete_stage(
    session: SessionDep,
    admin: AdminDep,
    slug: SlugPath,
    position: PositionPath,
    if_match: IfMatchHeader,
) -> Response:
    """Remove a stage (later ones move up); 409 while anyone is at it or beyond."""
    document = service.remove_stage(
        session, actor=admin, slug=slug, position=position, if_match=if_match
    )
    return Response(status_code=204, headers={"ETag": etag_of(document)})
