"""Media behind the lock: premium files only through signed, expiring links."""

from __future__ import annotations

import mimetypes
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse

from app.catalog.deps import CatalogDep
from app.core.deps import MediaSignerDep, SettingsDep
from app.core.errors import ForbiddenError, NotFoundError, error_responses

router = APIRouter(tags=["media"])

MEDIA_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"


def _file_under(folder: FilePath, key: str) -> FilePath:
    """The file for `key` inside `folder`; nothing outside it can be named."""
    root = folder.resolve()
    candidate = (root / key).resolve()
    if ".." in key.split("/") or not candidate.is_relative_to(root) or not candidate.is_file():
        raise NotFoundError("No such media file.")
    return candidate


@router.get(
    "/media/{key:path}",
    name="get_media",
    summary="A media file: teaser images are public, the rest need a signed link",
    response_class=FileResponse,
    responses={
        200: {"description": "The file.", "content": {"application/octet-stream": {}}},
        **error_responses(403, 404, 422),
    },
)
async def get_media(
    key: Annotated[str, Path(max_length=300, pattern=MEDIA_KEY_PATTERN)],
    media: MediaSignerDep,
    settings: SettingsDep,
    snapshot: CatalogDep,
    expires: Annotated[int | None, Query(ge=0, le=2**40)] = None,
    signature: Annotated[
        str | None, Query(min_length=64, max_length=64, pattern=r"^[0-9a-f]*$")
    ] = None,
) -> FileResponse:
    """Public teaser images answer as is; videos and other premium files need the signed link an
    unlocked exercise carries (403 when it is changed or expired)."""
    if key in snapshot.public_media and signature is None:
        cache = f"public, max-age={settings.public_cache_seconds}"
    elif expires is not None and signature is not None and media.verify(key, expires, signature):
        cache = "private, max-age=300"
    else:
        raise ForbiddenError("This media link is not valid or has expired.")
    path = _file_under(settings.media_dir, key)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache})
