"""Content management for admins: conditions, exercises and programs as whole documents.

Documents are the shapes `rehab seed` reads. Every GET carries the document's
ETag; every PUT and DELETE must send it back in `If-Match`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response

from app.authoring import service
from app.authoring.deps import (
    CREATE_ERRORS,
    LIST_ERRORS,
    PREFIX,
    READ_ERRORS,
    WRITE_ERRORS,
    IfMatchHeader,
    SearchQuery,
    SlugPath,
    StatusQuery,
    admin_router,
    document_response,
)
from app.authoring.documents import ContentKind, document_of, find, list_content
from app.authoring.schemas import ContentListPage
from app.catalog.models import ContentStatus
from app.catalog.schemas import ConditionIn, ExerciseIn, ProgramIn
from app.core.deps import ReadSessionDep, SessionDep
from app.core.pagination import PageDep, envelope
from app.identity.deps import AdminDep
from app.identity.models import User

router = admin_router()


def _list(
    session: ReadSessionDep,
    kind: ContentKind,
    page: PageDep,
    status: ContentStatus | None,
    q: str | None,
) -> dict[str, Any]:
    rows, total = list_content(session, kind, status=status, query=q, page=page)
    items = [
        {"slug": r.slug, "name": r.name, "status": r.status, "updated_at": r.updated_at}
        for r in rows
    ]
    return envelope(items, total, page)


def _get(session: ReadSessionDep, kind: ContentKind, slug: str) -> Response:
    return document_response(document_of(session, kind, find(session, kind, slug)))


def _create(
    session: SessionDep, admin: User, kind: ContentKind, item: Any, plural: str
) -> Response:
    document = service.create_content(session, actor=admin, kind=kind, item=item)
    return document_response(document, status=201, location=f"{PREFIX}/{plural}/{item.slug}")


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
    return document_response(document)


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
    """The document `seed/` holds, drafts included, with its ETag for the next `PUT`."""
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
    if_match: IfMatchHeader,
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
    session: SessionDep, admin: AdminDep, slug: SlugPath, if_match: IfMatchHeader
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
    """The document `seed/` holds, drafts included, with its ETag for the next `PUT`."""
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
    if_match: IfMatchHeader,
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
    session: SessionDep, admin: AdminDep, slug: SlugPath, if_match: IfMatchHeader
) -> Response:
    """Delete an exercise; 409 naming the programs that place it."""
    return _delete(session, admin, ContentKind.EXERCISE, slug, if_match)


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
    """The program with its stages, rules and dosage, drafts included, with its ETag for the
    next `PUT`."""
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
    if_match: IfMatchHeader,
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
    session: SessionDep, admin: AdminDep, slug: SlugPath, if_match: IfMatchHeader
) -> Response:
    """Delete a program; 409 naming the enrollments while anyone follows it."""
    return _delete(session, admin, ContentKind.PROGRAM, slug, if_match)
