"""What every content management route shares: admins only, documents with ETags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from app.authoring.documents import Document, etag_of
from app.catalog.models import ContentStatus
from app.core.errors import error_responses
from app.core.http_cache import PRIVATE
from app.core.json import JSONBytesResponse
from app.core.schemas import NO_NUL, SLUG_PATTERN
from app.identity.deps import current_admin

PREFIX = "/v1/admin"


def admin_router() -> APIRouter:
    """A router under `/v1/admin`: every route on it, present and future, is for admins only."""
    return APIRouter(
        prefix=PREFIX,
        tags=["admin"],
        default_response_class=JSONBytesResponse,
        dependencies=[Depends(current_admin)],
        responses=error_responses(401, 403),
    )


# Required in the schema; a request without it is answered 428 (see `app.core.errors`).
IfMatchHeader = Annotated[
    str,
    Header(
        alias="If-Match",
        min_length=1,
        max_length=1000,
        description="The ETag of the document as you read it (required; 428 without, "
        "412 when it changed since).",
    ),
]
SlugPath = Annotated[str, Path(max_length=120, pattern=SLUG_PATTERN)]
PositionPath = Annotated[int, Path(ge=1, le=50, description="The stage's place, from 1.")]
StatusQuery = Annotated[ContentStatus | None, Query(description="Only drafts or published.")]
SearchQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=NO_NUL,
        description="Words to find in names and slugs.",
    ),
]
LIST_ERRORS = error_responses(422)
READ_ERRORS = error_responses(404, 422)
CREATE_ERRORS = error_responses(409, 422)
WRITE_ERRORS = error_responses(404, 409, 412, 422, 428)
UPLOAD_ERRORS = error_responses(404, 412, 413, 415, 422, 428)


def document_response(
    document: Document,
    *,
    status: int = 200,
    location: str | None = None,
    part: Document | None = None,
) -> Response:
    """A document with its ETag, the validator the next write must send back. `part`: answer
    with that part of it instead (a program's stage), under the whole document's ETag."""
    headers = {"ETag": etag_of(document), "Cache-Control": PRIVATE}
    if location is not None:
        headers["Location"] = location
    body = document if part is None else part
    return JSONBytesResponse(body, status_code=status, headers=headers)
