"""With the per-token memory on (as in production), a person's own changes show at once.

The test settings switch the memory off; these tests switch it on for a long
time, so they can only pass if each change forgets what was remembered.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.conftest import Person, PersonFactory, sign_in
from tests.progress.conftest import enroll, log, session_body, stage_slugs

PROGRAM = "whole-leg-rehabilitation"


@pytest.fixture
def remembering(settings: Settings, database: Database) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"viewer_cache_seconds": 600}), database=database)
    with TestClient(app) as client:
        yield client


def test_signed_out_token_is_refused_at_once(remembering: TestClient, member: Person) -> None:
    assert remembering.get("/v1/me", headers=member.headers).status_code == 200

    assert remembering.post("/v1/auth/logout", headers=member.headers).status_code == 204

    refused = remembering.get("/v1/me", headers=member.headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_password_change_ends_other_sign_ins_at_once(
    remembering: TestClient, client: TestClient, member: Person
) -> None:
    other_device = sign_in(client, member.email, member.password)["access_token"]
    other = {"Authorization": f"Bearer {other_device}"}
    assert remembering.get("/v1/me", headers=other).status_code == 200

    changed = remembering.post(
        "/v1/me/password",
        headers=member.headers,
        json={"current_password": member.password, "new_password": "another sturdy phrase 43"},
    )

    assert changed.status_code == 204
    assert remembering.get("/v1/me", headers=other).status_code == 401
    assert remembering.get("/v1/me", headers=member.headers).status_code == 200


def test_a_new_display_name_is_shown_at_once(remembering: TestClient, member: Person) -> None:
    assert remembering.get("/v1/me", headers=member.headers).json()["display_name"] != "Robin"

    assert (
        remembering.patch("/v1/me", headers=member.headers, json={"display_name": "Robin"})
    ).status_code == 200

    assert remembering.get("/v1/me", headers=member.headers).json()["display_name"] == "Robin"


def test_a_logged_session_shows_in_progress_at_once(
    remembering: TestClient, seeded: object, member: Person
) -> None:
    enroll(remembering, member, PROGRAM)
    before = remembering.get("/v1/me/progress", headers=member.headers).json()
    assert before["programs"][0]["sessions_last_7_days"] == 0

    body = session_body(PROGRAM, 1, stage_slugs(remembering, PROGRAM, 1))
    assert log(remembering, member, body).status_code == 201

    after = remembering.get("/v1/me/progress", headers=member.headers).json()
    assert after["programs"][0]["sessions_last_7_days"] == 1


def test_progress_is_kept_per_person(
    remembering: TestClient, seeded: object, make_person: PersonFactory
) -> None:
    first, second = make_person(), make_person()
    enroll(remembering, first, PROGRAM)

    assert len(remembering.get("/v1/me/progress", headers=first.headers).json()["programs"]) == 1
    assert remembering.get("/v1/me/progress", headers=second.headers).json()["programs"] == []
