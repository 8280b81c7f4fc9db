"""The lock, per viewer, on every output path: program detail, exercise list and detail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlmodel import select

from app.access.policy import Role
from app.authoring.content import apply_content
from app.catalog.models import Program
from app.catalog.schemas import ContentBundle, ExerciseOut
from app.core.db import Database
from app.progress.models import Enrollment
from tests.catalog.conftest import PREMIUM_KEYS, exercises_in_program
from tests.conftest import Person, PersonFactory
from tests.factories import condition, exercise, program

EXERCISE = TypeAdapter(ExerciseOut)


@pytest.fixture
def catalogue(database: Database) -> None:
    """Program `ladder` has three stages; `shared` sits in stage 3 of it and stage 1 of `easy`."""
    bundle = ContentBundle.model_validate(
        {
            "exercises": [
                exercise(slug)
                for slug in ("first", "second", "third", "shared", "standalone", "no-video")
            ],
            "conditions": [condition("hip")],
            "programs": [
                program("ladder", ["hip"], [["first"], ["second"], ["third", "shared"]]),
                program("easy", ["hip"], [["shared"]]),
            ],
        }
    )
    bundle.exercises[-1].video = None
    with database.write_session() as session:
        apply_content(session, bundle)


def enroll(database: Database, person: Person, program_slug: str, stage: int) -> None:
    with database.write_session() as session:
        program_id = session.exec(select(Program.id).where(Program.slug == program_slug)).one()
        assert program_id is not None
        session.add(Enrollment(user_id=person.id, program_id=program_id, current_stage=stage))


def stage_access(client: TestClient, person: Person | None, slug: str) -> list[str]:
    headers = person.headers if person else {}
    body = client.get(f"/v1/programs/{slug}", headers=headers).json()
    return [stage["exercises"][0]["exercise"]["access"] for stage in body["stages"]]


def assert_shape(payload: dict[str, Any]) -> None:
    """Locked has no premium key at all; unlocked has every one."""
    EXERCISE.validate_python(payload)
    if payload["access"] == "locked":
        assert not PREMIUM_KEYS & payload.keys(), payload["slug"]
        assert payload["lock"]["reason"] in {"login_required", "stage_locked"}
    else:
        assert payload.keys() >= PREMIUM_KEYS, payload["slug"]
        assert "lock" not in payload


pytestmark = pytest.mark.usefixtures("catalogue")


def test_member_sees_stage_one_unlocked_and_higher_stages_locked(
    client: TestClient, member: Person
) -> None:
    assert stage_access(client, member, "ladder") == ["unlocked", "locked", "locked"]
    stages = client.get("/v1/programs/ladder", headers=member.headers).json()["stages"]
    lock = stages[1]["exercises"][0]["exercise"]["lock"]
    assert lock["reason"] == "stage_locked"
    assert "Ladder" in lock["message"]
    assert lock["unlock_hint"]


def test_an_enrollment_at_stage_two_unlocks_stages_one_and_two(
    client: TestClient, database: Database, member: Person
) -> None:
    enroll(database, member, "ladder", 2)
    assert stage_access(client, member, "ladder") == ["unlocked", "unlocked", "locked"]


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.ADMIN])
def test_clinicians_and_admins_see_everything(
    client: TestClient, make_person: PersonFactory, role: Role
) -> None:
    person = make_person(role)
    assert stage_access(client, person, "ladder") == ["unlocked"] * 3


def test_anonymous_sees_everything_locked_with_login_required(client: TestClient) -> None:
    assert stage_access(client, None, "ladder") == ["locked"] * 3


def test_unlocked_exercise_carries_signed_video_and_all_premium_content(
    client: TestClient, member: Person
) -> None:
    stages = client.get("/v1/programs/ladder", headers=member.headers).json()["stages"]
    unlocked = stages[0]["exercises"][0]["exercise"]
    assert unlocked["instructions"] == ["Do first slowly.", "Breathe out as you move."]
    assert unlocked["cues"]
    assert unlocked["mistakes"]
    assert unlocked["precautions"]
    assert "signature=" in unlocked["video"]["url"]
    assert "expires=" in unlocked["video"]["url"]
    assert unlocked["video"]["expires_at"]


def test_unlocked_exercise_without_video_has_null_video(client: TestClient, member: Person) -> None:
    body = client.get("/v1/exercises/no-video", headers=member.headers).json()
    assert body["access"] == "unlocked"
    assert body["video"] is None


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("first", "unlocked"),  # stage 1 of ladder
        ("second", "locked"),  # stage 2 only
        ("shared", "unlocked"),  # stage 3 of ladder, but stage 1 of easy
        ("standalone", "unlocked"),  # in no program at all
    ],
)
def test_standalone_exercise_is_unlocked_when_any_context_unlocks_it(
    client: TestClient, member: Person, slug: str, expected: str
) -> None:
    detail = client.get(f"/v1/exercises/{slug}", headers=member.headers).json()
    assert detail["access"] == expected
    listed = {
        item["slug"]: item["access"]
        for item in client.get("/v1/exercises", headers=member.headers).json()["items"]
    }
    assert listed[slug] == expected


@pytest.mark.parametrize("role", [None, Role.MEMBER, Role.ADMIN])
def test_every_output_path_has_the_right_shape(
    client: TestClient, make_person: PersonFactory, role: Role | None
) -> None:
    headers = make_person(role).headers if role else {}
    payloads: list[dict[str, Any]] = []
    for slug in ("ladder", "easy"):
        payloads += exercises_in_program(client.get(f"/v1/programs/{slug}", headers=headers).json())
    listed = client.get("/v1/exercises", headers=headers).json()["items"]
    payloads += listed
    payloads += [client.get(f"/v1/exercises/{e['slug']}", headers=headers).json() for e in listed]
    assert len(payloads) > 10
    for payload in payloads:
        assert_shape(payload)
    accesses = {p["access"] for p in payloads}
    assert accesses == (
        {"locked"}
        if role is None
        else {"unlocked"}
        if role is Role.ADMIN
        else {"locked", "unlocked"}
    )


def test_viewers_in_different_places_never_share_a_rendered_stage(
    client: TestClient, database: Database, make_person: PersonFactory
) -> None:
    """Stage lists are rendered once per decision and reused: each viewer still gets their own."""
    ahead, behind = make_person(), make_person()
    enroll(database, ahead, "ladder", 2)
    assert stage_access(client, None, "ladder") == ["locked"] * 3
    assert stage_access(client, behind, "ladder") == ["unlocked", "locked", "locked"]

    assert stage_access(client, ahead, "ladder") == ["unlocked", "unlocked", "locked"]
    assert stage_access(client, behind, "ladder") == ["unlocked", "locked", "locked"]
    assert stage_access(client, None, "ladder") == ["locked"] * 3
    ahead_third = client.get("/v1/programs/ladder", headers=ahead.headers).json()["stages"][2]
    behind_third = client.get("/v1/programs/ladder", headers=behind.headers).json()["stages"][2]
    # Each hint speaks of the viewer's own next step.
    ahead_hint = ahead_third["exercises"][0]["exercise"]["lock"]["unlock_hint"]
    behind_hint = behind_third["exercises"][0]["exercise"]["lock"]["unlock_hint"]
    assert ahead_hint.startswith("To reach stage 3")
    assert behind_hint.startswith("Complete stage 1")


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-token", "Bearer ", "bearer not-a-token", "BEARER x.y.z"]
)
def test_a_bearer_token_that_does_not_hold_is_refused_not_served_anonymously(
    client: TestClient, authorization: str
) -> None:
    response = client.get("/v1/programs/ladder", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_other_authorization_schemes_read_the_catalogue_anonymously(client: TestClient) -> None:
    response = client.get("/v1/programs/ladder", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 200
    assert {s["exercises"][0]["exercise"]["access"] for s in response.json()["stages"]} == {
        "locked"
    }
