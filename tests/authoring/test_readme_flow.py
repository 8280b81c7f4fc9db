"""The README's authoring walk-through, step by step: a new exercise reaches a member."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.catalog.schemas import ContentBundle
from app.cli import cli
from app.core.config import Settings, get_settings
from app.core.db import Database
from tests.authoring.conftest import ADMIN, enroll
from tests.authoring.test_media import MP4
from tests.catalog.conftest import exercises_in_program
from tests.conftest import Person, sign_in


@pytest.fixture
def cli_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """The `rehab` command pointed at the test database, with no stray `.env` read."""
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("REHAB_ADMIN_PASSWORD", "an editor's passphrase 7")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_admin_drafts_an_exercise_adds_its_video_publishes_it_into_a_stage_and_a_member_sees_it(
    client: TestClient,
    database: Database,
    settings: Settings,
    catalogue: ContentBundle,
    member: Person,
    cli_settings: None,
) -> None:
    # rehab create-admin, as the README says
    created = CliRunner().invoke(cli, ["create-admin", "editor@example.com"])
    assert created.exit_code == 0, created.output
    token = sign_in(client, "editor@example.com", "an editor's passphrase 7")["access_token"]
    admin = {"Authorization": f"Bearer {token}"}

    # Draft a new exercise: admins see it, nobody else does
    draft = {
        "slug": "hip-hinge",
        "name": "Hip Hinge",
        "summary": "Fold at the hips with a long spine.",
        "body_regions": ["hip"],
        "difficulty": "beginner",
        "instructions": ["Soften the knees.", "Push the hips back."],
        "status": "draft",
    }
    made = client.post(f"{ADMIN}/exercises", headers=admin, json=draft)
    assert made.status_code == 201, made.text
    assert client.get("/v1/exercises/hip-hinge").status_code == 404

    # Upload its video (multipart, If-Match: the exercise's ETag)
    uploaded = client.put(
        f"{ADMIN}/exercises/hip-hinge/video",
        headers=admin | {"If-Match": made.headers["etag"]},
        files={"file": ("hinge.mp4", MP4, "video/mp4")},
    )
    assert uploaded.status_code == 200, uploaded.text

    # Publish it
    document = client.get(f"{ADMIN}/exercises/hip-hinge", headers=admin)
    published = client.put(
        f"{ADMIN}/exercises/hip-hinge",
        headers=admin | {"If-Match": document.headers["etag"]},
        json=document.json() | {"status": "published"},
    )
    assert published.status_code == 200, published.text

    # Place it in stage 1 of a program
    stage = client.get(f"{ADMIN}/programs/hip-plan/stages/1", headers=admin)
    body = stage.json()
    body["exercises"].append({"exercise": "hip-hinge", "sets": 2, "reps": 10})
    placed = client.put(
        f"{ADMIN}/programs/hip-plan/stages/1",
        headers=admin | {"If-Match": stage.headers["etag"]},
        json=body,
    )
    assert placed.status_code == 200, placed.text

    # A member following the program sees it unlocked, video and all
    enroll(client, database, member, "hip-plan")
    shown = client.get("/v1/programs/hip-plan", headers=member.headers).json()
    [hinge] = [e for e in exercises_in_program(shown) if e["slug"] == "hip-hinge"]
    assert hinge["access"] == "unlocked"
    assert hinge["instructions"] == ["Soften the knees.", "Push the hips back."]
    assert client.get(hinge["video"]["url"]).content == MP4

    # ...and the trail says who did it
    trail = client.get(f"{ADMIN}/audit", headers=admin, params={"slug": "hip-hinge"}).json()
    assert [e["action"] for e in trail["items"]] == ["update", "upload", "create"]
    assert {e["actor"]["email"] for e in trail["items"]} == {"editor@example.com"}
