"""Content management endpoints for admins: conditions, exercises, programs, stages, media.

Documents are the shapes `rehab seed` reads. Every GET carries the
document's ETag; every PUT and DELETE (stage and media writes too) must send
it back in `If-Match`.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.authoring import media, service
from app.authoring.deps import IfMatchHeader
from app.authoring.models import AuditEntry
from app.authoring.schemas import (
    AuditActor,
    AuditEntryOut,
    AuditPage,
    ContentListPage,
    MediaStored,
    StageBodyIn,
)
from app.authoring.service import ContentKind, Document
from app.catalog.models import ContentStatus
from app.catalog.schemas import ConditionIn, ExerciseIn, ProgramIn, StageIn
from app.core.deps import DatabaseDep, ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.json import JSONBytesResponse
from app.core.pagination import PageDep, envelope
from app.core.schemas import SLUG_PATTERN
from app.identity.deps import AdminDep, current_admin
from app.identity.models import User

PREFIX = "/v1/admin"
router = APIRouter(
    prefix=PREFIX,
    tags=["admin"],
    default_response_class=JSONBytesResponse,
    # Every route, present and future, is for admins only.
    dependencies=[Depends(current_admin)],
    responses=error_responses(401, 403),
)

SlugPath = Annotated[str, Path(max_length=120, pattern=SLUG_PATTERN)]
PositionPath = Annotated[int, Path(ge=1, le=50, description="The stage's place, from 1.")]
StatusQuery = Annotated[ContentStatus | None, Query(description="Only drafts or published.")]
SearchQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Words to find in names and slugs."),
]
LIST_ERRORS = error_responses(422)
READ_ERRORS = error_responses(404, 422)
CREATE_ERRORS = error_responses(409, 422)
WRITE_ERRORS = error_responses(404, 409, 412, 422, 428)
UPLOAD_ERRORS = error_responses(404, 412, 413, 415, 422, 428)
NO_STORE = "private, no-cache"


def _document(document: Document, *, status: int = 200, location: str | None = None) -> Response:
    headers = {"ETag": service.etag_of(document), "Cache-Control": NO_STORE}
    if location is not None:
        headers["Location"] = location
    return JSONBytesResponse(document, status_code=status, headers=headers)


def _list(
    session: ReadSessionDep,
    kind: ContentKind,
    page: PageDep,
    status: ContentStatus | None,
    q: str | None,
) -> dict[str, Any]:
    rows, total = service.list_content(session, kind, status=status, query=q, page=page)
    items = [
        {"slug": r.slug, "name": r.name, "status": r.status, "updated_at": r.updated_at}
        for r in rows
    ]
    return envelope(items, total, page)


def _get(session: ReadSessionDep, kind: ContentKind, slug: str) -> Response:
    return _document(service.document_of(session, kind, service.find(session, kind, slug)))


def _create(
    session: SessionDep, admin: User, kind: ContentKind, item: Any, plural: str
) -> Response:
    document = service.create_content(session, actor=admin, kind=kind, item=item)
    return _document(document, status=201, location=f"{PREFIX}/{plural}/{item.slug}")


def _update(
    session: SessionDep,
    admin: User,
    kind: ContentKind,
    slug: str,
    item: Any,
    if_match: str | None,
) -> Response:
    document = service.update_content(
        session, actor=admin, kind=kind, slug=slug, item=item, if_match=if_match
    )
    return _document(document)


def _delete(
    session: SessionDep, admin: User, kind: ContentKind, slug: str, if_match: str | None
) -> Response:
    service.delete_content(session, actor=admin, kind=kind, slug=slug, if_match=if_match)
    return Response(status_code=204)


# ---------------------------------------------------------------------------
# Conditions


@router.get(
    "/conditions",
    name="admin_list_conditions",
    response_model=ContentListPage,
    responses=LIST_ERRORS,
)
def list_conditions(
    session: ReadSessionDep,
    page: PageDep,
    status: StatusQuery = None,
    q: SearchQuery = None,
) -> dict[str, Any]:
    """Conditions, drafts and published alike."""
    return _list(session, ContentKind.CONDITION, page, status, q)


@router.post(
    "/conditions",
    name="admin_create_condition",
    status_code=201,
    response_model=ConditionIn,
    responses=CREATE_ERRORS,
)
def create_condition(session: SessionDep, admin: AdminDep, body: ConditionIn) -> Response:
    """Add a condition (a draft with `"status": "draft"`); 409 if the slug is taken."""
    return _create(session, admin, ContentKind.CONDITION, body, "conditions")


@router.get(
    "/conditions/{slug}",
    name="admin_get_condition",
    response_model=ConditionIn,
    responses=READ_ERRORS,
)
def get_condition(session: ReadSessionDep, slug: SlugPath) -> Response:
    return _get(session, ContentKind.CONDITION, slug)


@router.put(
    "/conditions/{slug}",
    name="admin_update_condition",
    response_model=ConditionIn,
    responses=WRITE_ERRORS,
)
def update_condition(
    session: SessionDep,
    admin: AdminDep,
    slug: SlugPath,
    body: ConditionIn,
    if_match: IfMatchHeader = None,
) -> Response:
    """Replace the whole condition document (as GET returns it)."""
    return _update(session, admin, ContentKind.CONDITION, slug, body, if_match)


@router.delete(
    "/conditions/{slug}",
    name="admin_delete_condition",
    status_code=204,
    responses=WRITE_ERRORS,
)
def delete_condition(
    session: SessionDep, admin: AdminDep, slug: SlugPath, if_match: IfMatchHeader = None
) -> Response:
    """Delete a condition; 409 naming the programs (or conditions) that point at it."""
    return _delete(session, admin, ContentKind.CONDITION, slug, if_match)


# ---------------------------------------------------------------------------
# Exercises


@router.get(
    "/exercises", name="admin_list_exercises", response_model=ContentListPage, responses=LIST_ERRORS
)
def list_exercises(
    session: ReadSessionDep,
    page: PageDep,
    status: StatusQuery = None,
    q: SearchQuery = None,
) -> dict[str, Any]:
    """Exercises, drafts and published alike."""
    return _list(session, ContentKind.EXERCISE, page, status, q)


@router.post(
    "/exercises",
    name="admin_create_exercise",
    status_code=201,
    response_model=ExerciseIn,
    responses=CREATE_ERRORS,
)
def create_exercise(session: SessionDep, admin: AdminDep, body: ExerciseIn) -> Response:
    """Add an exercise (a draft with `"status": "draft"`); 409 if the slug is taken."""
    return _create(session, admin, ContentKind.EXERCISE, body, "exercises")


@router.get(
    "/exercises/{slug}",
    name="admin_get_exercise",
    response_model=ExerciseIn,
    responses=READ_ERRORS,
)
def get_exercise(session: ReadSessionDep, slug: SlugPath) -> Response:
    return _get(session, ContentKind.EXERCISE, slug)


@router.put(
    "/exercises/{slug}",
    name="admin_update_exercise",
    response_model=ExerciseIn,
    responses=WRITE_ERRORS,
)
def update_exercise(
    session: SessionDep,
    admin: AdminDep,
    slug: SlugPath,
    body: ExerciseIn,
    if_match: IfMatchHeader = None,
) -> Response:
    """Replace the whole exercise document (as GET returns it)."""
    return _update(session, admin, ContentKind.EXERCISE, slug, body, if_match)


@router.delete(
    "/exercises/{slug}",
    name="admin_delete_exercise",
    status_code=204,
    responses=WRITE_ERRORS,
)
def delete_exercise(
    session: SessionDep, admin: AdminDep, slug: SlugPath, if_match: IfMatchHeader = None
) -> Response:
    """Delete an exercise; 409 naming the programs that place it."""
    return _delete(session, admin, ContentKind.EXERCISE, slug, if_match)


# ---------------------------------------------------------------------------
# Exercise media

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


async def _upload(
    request: Request,
    database: DatabaseDep,
    admin: User,
    slug: str,
    if_match: str | None,
    rule: media.MediaRule,
    media_dir: FilePath,
) -> Response:
    """Check the precondition cheaply, receive the file, then write in one short transaction.

    The file is streamed before the write transaction begins, so a long upload
    never holds the database's write lock.
    """

    def precheck() -> None:
        with database.read_session() as session:
            before = service.document_of(
                session, ContentKind.EXERCISE, service.find(session, ContentKind.EXERCISE, slug)
            )
            service.check_if_match(if_match, before)

    await run_in_threadpool(precheck)
    received = await media.receive(
        request.stream(),
        content_type=request.headers.get("content-type"),
        media_dir=media_dir,
        rule=rule,
    )
    try:
        sniffed = media.check_type(received, rule)
    except Exception:
        media.discard(received)
        raise

    def write() -> tuple[Document, bool, str]:
        key = media.store(received, sniffed, media_dir=media_dir, folder=rule.folder)
        with database.write_session() as session:
            document, changed = service.set_exercise_media(
                session, actor=admin, slug=slug, field=rule.field, key=key, if_match=if_match
            )
        return document, changed, key

    async with database.turn_to_write():
        document, changed, key = await run_in_threadpool(write)
    stored = MediaStored(
        key=key,
        media_type=sniffed.media_type,
        size=received.size,
        sha256=received.sha256,
        changed=changed,
    )
    return JSONBytesResponse(
        stored.model_dump(mode="json"),
        headers={"ETag": service.etag_of(document), "Cache-Control": NO_STORE},
    )


@router.put(
    "/exercises/{slug}/video",
    name="admin_upload_exercise_video",
    response_model=MediaStored,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD_BODY,
)
async def upload_video(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    admin: AdminDep,
    slug: SlugPath,
    if_match: IfMatchHeader = None,
) -> Response:
    """Upload the exercise's video (MP4 or WebM, judged by content); the ETag is the exercise's."""
    rule = media.video_rule(settings.media_max_video_bytes)
    return await _upload(request, database, admin, slug, if_match, rule, settings.media_dir)


@router.put(
    "/exercises/{slug}/thumbnail",
    name="admin_upload_exercise_thumbnail",
    response_model=MediaStored,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD_BODY,
)
async def upload_thumbnail(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    admin: AdminDep,
    slug: SlugPath,
    if_match: IfMatchHeader = None,
) -> Response:
    """Upload the exercise's thumbnail (JPEG, PNG or WebP, judged by content)."""
    rule = media.thumbnail_rule(settings.media_max_image_bytes)
    return await _upload(request, database, admin, slug, if_match, rule, settings.media_dir)


# ---------------------------------------------------------------------------
# Programs and their stages


@router.get(
    "/programs", name="admin_list_programs", response_model=ContentListPage, responses=LIST_ERRORS
)
def list_programs(
    session: ReadSessionDep,
    page: PageDep,
    status: StatusQuery = None,
    q: SearchQuery = None,
) -> dict[str, Any]:
    """Catalogue programs, drafts and published alike (clinics' own programs are not here)."""
    return _list(session, ContentKind.PROGRAM, page, status, q)


@router.post(
    "/programs",
    name="admin_create_program",
    status_code=201,
    response_model=ProgramIn,
    responses=CREATE_ERRORS,
)
def create_program(session: SessionDep, admin: AdminDep, body: ProgramIn) -> Response:
    """Add a program with its stages; a draft may have none yet."""
    return _create(session, admin, ContentKind.PROGRAM, body, "programs")


@router.get(
    "/programs/{slug}",
    name="admin_get_program",
    response_model=ProgramIn,
    responses=READ_ERRORS,
)
def get_program(session: ReadSessionDep, slug: SlugPath) -> Response:
    return _get(session, ContentKind.PROGRAM, slug)


@router.put(
    "/programs/{slug}",
    name="admin_update_program",
    response_model=ProgramIn,
    responses=WRITE_ERRORS,
)
def update_program(
    session: SessionDep,
    admin: AdminDep,
    slug: SlugPath,
    body: ProgramIn,
    if_match: IfMatchHeader = None,
) -> Response:
    """Replace the whole program document, stages included (as GET returns it)."""
    return _update(session, admin, ContentKind.PROGRAM, slug, body, if_match)


@router.delete(
    "/programs/{slug}",
    name="admin_delete_program",
    status_code=204,
    responses=WRITE_ERRORS,
)
def delete_program(
    session: SessionDep, admin: AdminDep, slug: SlugPath, if_match: IfMatchHeader = None
) -> Response:
    """Delete a program; 409 naming the enrollments while anyone follows it."""
    return _delete(session, admin, ContentKind.PROGRAM, slug, if_match)


def _stage_response(document: Document, position: int, *, status: int = 200) -> Response:
    """A stage, with its program's ETag: a stage is edited as part of its program."""
    stage = service.program_stage(document, position)
    headers = {"ETag": service.etag_of(document), "Cache-Control": NO_STORE}
    if status == 201:
        headers["Location"] = f"{PREFIX}/programs/{document['slug']}/stages/{position}"
    return JSONBytesResponse(stage, status_code=status, headers=headers)


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
    if_match: IfMatchHeader = None,
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
    program = service.find(session, ContentKind.PROGRAM, slug)
    return _stage_response(service.document_of(session, ContentKind.PROGRAM, program), position)


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
    if_match: IfMatchHeader = None,
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
    if_match: IfMatchHeader = None,
) -> Response:
    """Remove a stage (later ones move up); 409 while anyone is at it or beyond."""
    document = service.remove_stage(
        session, actor=admin, slug=slug, position=position, if_match=if_match
    )
    return Response(status_code=204, headers={"ETag": service.etag_of(document)})


# ---------------------------------------------------------------------------
# The audit trail

KindQuery = Annotated[ContentKind | None, Query(description="Only this kind of content.")]


@router.get("/audit", name="admin_list_audit", response_model=AuditPage, responses=LIST_ERRORS)
def list_audit(
    session: ReadSessionDep,
    page: PageDep,
    kind: KindQuery = None,
    slug: Annotated[str | None, Query(max_length=120)] = None,
    actor: Annotated[str | None, Query(max_length=320, description="The actor's email.")] = None,
) -> dict[str, Any]:
    """Who changed what and when, with the documents before and after; newest first."""
    entries, total = service.list_audit(session, kind=kind, slug=slug, actor=actor, page=page)
    items = [_audit_item(entry) for entry in entries]
    return envelope(items, total, page)


def _audit_item(entry: AuditEntry) -> dict[str, Any]:
    assert entry.id is not None
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor=AuditActor(id=entry.actor_id, email=entry.actor_email),
        action=entry.action,
        kind=entry.kind,
        slug=entry.slug,
        clinic_id=entry.clinic_id,
        before=entry.before,
        after=entry.after,
    ).model_dump(mode="json")
