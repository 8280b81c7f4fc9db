"""Exercise media for admins: videos and thumbnails, judged by their bytes."""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from app.authoring import media, service
from app.authoring.deps import UPLOAD_ERRORS, IfMatchHeader, SlugPath, admin_router
from app.authoring.documents import (
    ContentKind,
    Document,
    check_if_match,
    document_of,
    etag_of,
    find,
)
from app.authoring.schemas import MediaStored
from app.core.deps import DatabaseDep, SettingsDep
from app.core.http_cache import PRIVATE
from app.core.json import JSONBytesResponse
from app.identity.deps import AdminDep
from app.identity.models import User

router = admin_router()
# The only routes that take a large body: the cap for uploads applies to these alone.
UPLOAD_PATHS = re.compile(r"/v1/admin/exercises/[^/]+/(video|thumbnail)")


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
            before = document_of(
                session, ContentKind.EXERCISE, find(session, ContentKind.EXERCISE, slug)
            )
            check_if_match(if_match, before)

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
        headers={"ETag": etag_of(document), "Cache-Control": PRIVATE},
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
    if_match: IfMatchHeader,
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
    if_match: IfMatchHeader,
) -> Response:
    """Upload the exercise's thumbnail (JPEG, PNG or WebP, judged by content)."""
    rule = media.thumbnail_rule(settings.media_max_image_bytes)
    return await _upload(request, database, admin, slug, if_match, rule, settings.media_dir)
