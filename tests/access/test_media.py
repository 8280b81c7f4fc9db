"""Signed media links: the file for a valid link, 403 for a bent or expired one."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.config import Settings
from app.core.db import Database
from app.core.deps import MEDIA_SIGNER
from app.core.media import MediaSigner
from tests.conftest import Person
from tests.factories import exercise

VIDEO = b"\x00\x00\x00\x18ftypmp42 test video bytes"
IMAGE = b"\x89PNG\r\n\x1a\n test image bytes"


@pytest.fixture
def media_files(settings: Settings, database: Database) -> None:
    for key, content in (("videos/bridge.mp4", VIDEO), ("thumbnails/bridge.jpg", IMAGE)):
        path = settings.media_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    with database.write_session() as session:
        bundle = ContentBundle.model_validate(
            {"exercises": [exercise("bridge", video="videos/bridge.mp4")]}
        )
        apply_content(session, bundle)


def signer(client: TestClient) -> MediaSigner:
    return MEDIA_SIGNER.of_app(client.app)


def video_link(client: TestClient, member: Person) -> str:
    body = client.get("/v1/exercises/bridge", headers=member.headers).json()
    url: str = body["video"]["url"]
    return url


pytestmark = pytest.mark.usefixtures("media_files")


def test_a_signed_link_from_an_unlocked_exercise_serves_the_file(
    client: TestClient, member: Person
) -> None:
    response = client.get(video_link(client, member))
    assert response.status_code == 200
    assert response.content == VIDEO
    assert response.headers["content-type"] == "video/mp4"


def test_the_link_expires_about_an_hour_from_now(client: TestClient, member: Person) -> None:
    query = parse_qs(urlsplit(video_link(client, member)).query)
    lifetime = int(query["expires"][0]) - time.time()
    assert 3600 <= lifetime <= 3600 + 300


def test_a_changed_key_is_refused(client: TestClient, member: Person, settings: Settings) -> None:
    (settings.media_dir / "videos" / "other.mp4").write_bytes(b"other")
    url = video_link(client, member).replace("bridge.mp4", "other.mp4")
    response = client.get(url)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_a_changed_expiry_is_refused(client: TestClient, member: Person) -> None:
    url = video_link(client, member)
    expires = parse_qs(urlsplit(url).query)["expires"][0]
    response = client.get(url.replace(f"expires={expires}", f"expires={int(expires) + 86400}"))
    assert response.status_code == 403


def test_a_past_expiry_is_refused(client: TestClient) -> None:
    stale = signer(client).sign("videos/bridge.mp4", now=time.time() - 7200)["url"]
    assert client.get(stale).status_code == 403


def test_a_video_without_signature_is_refused(client: TestClient) -> None:
    assert client.get("/media/videos/bridge.mp4").status_code == 403


def test_a_valid_link_to_a_missing_file_is_404(client: TestClient) -> None:
    url = signer(client).sign("videos/missing.mp4")["url"]
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_teaser_thumbnails_are_public(client: TestClient) -> None:
    thumbnail = client.get("/v1/exercises/bridge").json()["thumbnail_url"]
    response = client.get(thumbnail)
    assert response.status_code == 200
    assert response.content == IMAGE


@pytest.mark.parametrize(
    "path", ["/media/../secret_key", "/media/videos/../../secret_key", "/media/%2e%2e/secret_key"]
)
def test_paths_outside_the_media_folder_cannot_be_reached(
    client: TestClient, path: str, settings: Settings
) -> None:
    (settings.data_dir / "secret_key").write_text("top secret")
    response = client.get(path)
    assert response.status_code in {403, 404, 422}
    assert "top secret" not in response.text


def test_a_signature_is_bound_to_key_and_expiry(tmp_path: Path) -> None:
    media = MediaSigner(b"k" * 32, base_url="/media", ttl_seconds=3600)
    expires = int(time.time()) + 60
    signature = media.signature("a.mp4", expires)
    assert media.verify("a.mp4", expires, signature)
    assert not media.verify("b.mp4", expires, signature)
    assert not media.verify("a.mp4", expires + 1, signature)
    assert not MediaSigner(b"j" * 32, base_url="/media", ttl_seconds=1).verify(
        "a.mp4", expires, signature
    )
