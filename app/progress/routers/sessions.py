"""A person's sessions: logged by client UUID, synced in batches, read back as a feed."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlmodel import Session
from starlette.convertors import StringConvertor, register_url_convertor

from app.catalog.deps import CatalogDep
from app.core.deps import DATABASE, ReadSessionDep, SessionDep
from app.core.errors import NotFoundError, error_responses
from app.core.group_commit import Staged
from app.core.http_cache import PRIVATE
from app.core.json import JSONBytesResponse
from app.core.models import utcnow
from app.core.schemas import CURSOR_PATTERN, Slug
from app.identity.deps import CurrentUserDep
from app.progress import enrollments, present
from app.progress.models import SessionLog
from app.progress.schemas import (
    SessionFeed,
    SessionIn,
    SessionOut,
    SyncIn,
    SyncItem,
    SyncOut,
)
from app.progress.scope import OWN
from app.progress.sessions import feed, sync, write

router = APIRouter(prefix="/v1/me")

SessionIdPath = Annotated[UUID, Path(description="The client-generated UUID of the session.")]


class _NotSync(StringConvertor):
    """One path segment, but not `sync`: that path is the batch route's alone, so another
    method there is a 405 naming POST rather than a session id that is not a UUID. Any
    other segment still reaches the session routes, whose 422 names the bad parameter."""

    regex = "(?!sync$)[^/]+"


register_url_convertor("not_sync", _NotSync())
SESSION_PATH = "/sessions/{session_id:not_sync}"
# OpenAPI links: what a client (or a stateful test) can do next with what it just made.
SESSION_LINKS = {
    name: {"operationId": operation, "parameters": {"session_id": "$request.path.session_id"}}
    for name, operation in (("GetSession", "get_session"), ("DeleteSession", "delete_session"))
}


@router.put(
    SESSION_PATH,
    tags=["sessions"],
    name="put_session",
    summary="Log a session by its client UUID: 201 created, 200 replaced or unchanged",
    response_model=SessionOut,
    responses={
        200: {"links": SESSION_LINKS},
        201: {"description": "Created", "model": SessionOut, "links": SESSION_LINKS},
        **error_responses(401, 404, 409, 422),
    },
)
async def put_session(
    request: Request,
    session_id: SessionIdPath,
    body: SessionIn,
    user: CurrentUserDep,
    snapshot: CatalogDep,
) -> Response:
    """Offline-safe: the app makes the UUID, so retrying never duplicates. 201 the first time,
    200 when the same id comes again (replaced if its content changed, else unchanged). 409
    for a program you do not follow or a stage you have not reached; another person's UUID is
    a 404. Queues `session.logged` (and `pain.reported` at the stage's pain limit) for
    clinics you consented to."""
    user_id = user.id
    assert user_id is not None

    # The hottest write: stored and encoded in a single worker-thread hop.
    def put(session: Session) -> Staged[tuple[write.Outcome, bytes]]:
        written = yield from write.put_session(
            session,
            user_id=user_id,
            session_id=session_id,
            body=body,
            snapshot=snapshot,
            now=utcnow(),
        )
        stored = present.session_out(written.log, written.entries, snapshot)
        return written.outcome, stored.model_dump_json().encode()

    outcome, encoded = await DATABASE.of(request).write(put, order=user_id)
    if outcome is write.Outcome.CREATED:
        location = {"Location": f"/v1/me/sessions/{session_id}"}
        return JSONBytesResponse(encoded, status_code=status.HTTP_201_CREATED, headers=location)
    return JSONBytesResponse(encoded)


@router.post(
    "/sessions/sync",
    tags=["sessions"],
    name="sync_sessions",
    summary="Log up to 100 sessions at once; each gets its own result",
    response_model=SyncOut,
    responses=error_responses(401, 422),
)
def sync_sessions(
    body: SyncIn, session: SessionDep, user: CurrentUserDep, snapshot: CatalogDep
) -> SyncOut:
    """Items are checked one by one: an invalid item is `rejected` with its reasons and
    never stops the others."""
    assert user.id is not None
    items = [item.model_dump() if isinstance(item, SyncItem) else item for item in body.sessions]
    results = sync.sync_sessions(
        session, user_id=user.id, items=items, snapshot=snapshot, now=utcnow()
    )
    return SyncOut.model_validate(
        {
            "results": [
                {"id": r.id, "status": r.status, "detail": r.detail, "errors": r.errors}
                for r in results
            ]
        }
    )


@router.get(
    "/sessions",
    tags=["sessions"],
    name="list_session_changes",
    summary="Sessions changed since a cursor (deletions included), oldest change first",
    response_model=SessionFeed,
    responses=error_responses(401, 404, 422),
)
def list_session_changes(
    session: ReadSessionDep,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    response: Response,
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=CURSOR_PATTERN,
            description="`next_cursor` from the previous page; omit to start.",
        ),
    ] = None,
    program: Annotated[Slug | None, Query(description="Only sessions of this program.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> SessionFeed:
    """For a second device catching up: send the `next_cursor` of the last page as `since`.
    Deletions come as tombstones."""
    assert user.id is not None
    program_id = None
    if program is not None:
        program_id = enrollments.program_for_person(session, snapshot, program, user_id=user.id).id
    page = feed.changes_since(
        session,
        user_id=user.id,
        since=feed.decode_cursor(since),
        program_id=program_id,
        scope=OWN,
        limit=limit,
    )
    response.headers["Cache-Control"] = PRIVATE
    return present.feed(page, snapshot)


@router.get(
    SESSION_PATH,
    tags=["sessions"],
    name="get_session",
    summary="One of your sessions",
    response_model=SessionOut,
    responses=error_responses(401, 404, 422),
)
def get_session(
    session_id: SessionIdPath,
    session: ReadSessionDep,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    response: Response,
) -> SessionOut:
    """One session you logged, with its entries. Another person's session is a 404."""
    log = session.get(SessionLog, str(session_id))
    if log is None or log.user_id != user.id or log.deleted_at is not None:
        raise NotFoundError("No such session.")
    response.headers["Cache-Control"] = PRIVATE
    return present.session_out(log, feed.entries_of(session, [log.id])[log.id], snapshot)


@router.delete(
    SESSION_PATH,
    tags=["sessions"],
    name="delete_session",
    summary="Delete one of your sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
def delete_session(
    session_id: SessionIdPath, session: SessionDep, user: CurrentUserDep
) -> Response:
    """Deleted for good; the change feed reports the deletion so your other devices follow."""
    assert user.id is not None
    write.delete_session(session, user_id=user.id, session_id=session_id, now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
