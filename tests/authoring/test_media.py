"""Uploading an exercise's video and thumbnail: sized and typed by content, stored by hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.catalog.schemas import ContentBundle
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.authoring.conftest import ADMIN, Editor, enroll
from tests.conftest import Person

VIDEO_LIMIT = 4096
IMAGE_LIMIT = 2048
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x01" * 600
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x02" * 300
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x03" * 200
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x04" * 200


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def small_limits(settings: Settings, media_dir: Path) -> Settings:
    return settings.model_copy(
        update={
            "media_dir": media_dir,
            "media_max_video_bytes": VIDEO_LIMIT,
            "media_max_image_bytes": IMAGE_LIMIT,
        }
    )


@pytest.fixture
def uploads(small_limits: Settings, database: Database, admin: Person) -> Iterator[Editor]:
    """An admin at an app whose media limits are a few KiB and whose media dir is empty."""
    with TestClient(create_app(small_limits, database=database)) as test_client:
        yield Editor(test_client, admin)  # tokens hold across apps sharing the secret


def upload(
    editor: Editor,
    what: str,
    data: bytes,
    *,
    filename: str = "upload.bin",
    content_type: str = "application/octet-stream",
    slug: str = "bridge",
    etag: str | None = None,
    part: str = "file",
) -> httpx2.Response:
    if etag is None:
        etag = editor.read(f"/exercises/{slug}")[1]
    return editor.client.put(
        f"{ADMIN}/exercises/{slug}/{what}",
        headers=editor.headers | {"If-Match": etag},
        files={part: (filename, data, content_type)},
    )


def stored_files(media_dir: Path) -> list[str]:
    if not media_dir.exists():
        return []
    return sorted(str(p.relative_to(media_dir)) for p in media_dir.rglob("*") if p.is_file())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.usefixtures("catalogue")
def test_an_mp4_declared_as_png_is_stored_as_video_under_its_hash(
    uploads: Editor, media_dir: Path
) -> None:
    response = upload(uploads, "video", MP4, filename="clip.png", content_type="image/png")
    assert response.status_code == 200, response.text
    key = f"videos/{sha(MP4)}.mp4"
    assert response.json() == {
        "key": key,
        "media_type": "video/mp4",
        "size": len(MP4),
        "sha256": sha(MP4),
        "changed": True,
    }
    assert (media_dir / key).read_bytes() == MP4
    document, etag = uploads.read("/exercises/bridge")
    assert document["video"] == key
    assert response.headers["etag"] == etag
    [entry] = uploads.get("/audit", params={"slug": "bridge"}).json()["items"]
    assert (entry["action"], entry["before"]["video"], entry["after"]["video"]) == (
        "upload",
        "videos/bridge.mp4",
        key,
    )


@pytest.mark.usefixtures("catalogue")
def test_webm_video_and_png_jpeg_thumbnails_are_accepted(uploads: Editor) -> None:
    assert upload(uploads, "video", WEBM).json()["key"] == f"videos/{sha(WEBM)}.webm"
    assert upload(uploads, "thumbnail", PNG).json()["key"] == f"thumbnails/{sha(PNG)}.png"
    assert upload(uploads, "thumbnail", JPEG).json()["key"] == f"thumbnails/{sha(JPEG)}.jpg"


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(
    ("what", "data", "filename", "content_type"),
    [
        ("video", PNG, "clip.mp4", "video/mp4"),  # a PNG renamed .mp4
        ("thumbnail", MP4, "thumb.png", "image/png"),  # a video sent as a thumbnail
        ("video", b"just some text, not a video at all", "clip.mp4", "video/mp4"),
    ],
)
def test_a_file_whose_content_is_not_the_right_type_is_415_and_nothing_is_stored(
    uploads: Editor, media_dir: Path, what: str, data: bytes, filename: str, content_type: str
) -> None:
    before = uploads.read("/exercises/bridge")
    response = upload(uploads, what, data, filename=filename, content_type=content_type)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert stored_files(media_dir) == []
    assert uploads.read("/exercises/bridge") == before


@pytest.mark.usefixtures("catalogue")
def test_an_oversized_file_is_413_and_nothing_is_stored(uploads: Editor, media_dir: Path) -> None:
    before = uploads.read("/exercises/bridge")
    too_big = MP4 + b"\x00" * VIDEO_LIMIT
    response = upload(uploads, "video", too_big)
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == VIDEO_LIMIT
    image = upload(uploads, "thumbnail", PNG + b"\x00" * IMAGE_LIMIT)
    assert image.status_code == 413
    assert stored_files(media_dir) == []
    assert uploads.read("/exercises/bridge") == before


@pytest.mark.usefixtures("catalogue")
def test_uploading_the_same_bytes_again_changes_nothing(uploads: Editor, media_dir: Path) -> None:
    first = upload(uploads, "video", MP4)
    again = upload(uploads, "video", MP4)
    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert again.headers["etag"] == first.headers["etag"]
    assert stored_files(media_dir) == [f"videos/{sha(MP4)}.mp4"]
    assert uploads.get("/audit").json()["total"] == 1


@pytest.mark.usefixtures("catalogue")
def test_an_upload_needs_a_current_if_match(uploads: Editor, media_dir: Path) -> None:
    missing = uploads.client.put(
        f"{ADMIN}/exercises/bridge/video",
        headers=uploads.headers,
        files={"file": ("clip.mp4", MP4, "video/mp4")},
    )
    assert missing.status_code == 428
    assert upload(uploads, "video", MP4, etag='"stale"').status_code == 412
    assert stored_files(media_dir) == []


@pytest.mark.usefixtures("catalogue")
def test_the_body_must_be_multipart_with_one_file_part(uploads: Editor, media_dir: Path) -> None:
    _, etag = uploads.read("/exercises/bridge")
    as_json = uploads.client.put(
        f"{ADMIN}/exercises/bridge/video",
        headers=uploads.headers | {"If-Match": etag},
        content=MP4,
    )
    assert as_json.status_code == 415
    misnamed = upload(uploads, "video", MP4, part="video")
    assert misnamed.status_code == 422
    assert misnamed.json()["errors"][0]["pointer"] == "/file"
    assert upload(uploads, "video", MP4, slug="nope", etag='"x"').status_code == 404
    assert stored_files(media_dir) == []


def test_an_uploaded_video_is_served_only_through_the_signed_link(
    uploads: Editor, database: Database, catalogue: ContentBundle, member: Person
) -> None:
    client = uploads.client
    key = upload(uploads, "video", MP4).json()["key"]
    assert client.get(f"/media/{key}").status_code == 403
    enroll(client, database, member, "hip-plan")
    shown: dict[str, Any] = client.get("/v1/exercises/bridge", headers=member.headers).json()
    assert shown["access"] == "unlocked"
    link = shown["video"]["url"]
    assert key in link
    fetched = client.get(link)
    assert fetched.status_code == 200
    assert fetched.content == MP4
