"""The catalogue stays whole: the rules the admin API and `rehab seed` share."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.authoring.content import apply_content
from app.authoring.report import ContentConflictError, ContentError
from app.catalog.schemas import ContentBundle
from app.core.db import Database
from tests.authoring.conftest import Editor, enroll, move_to_stage
from tests.conftest import Person
from tests.factories import program


def problems_of(response: Any) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json"
    found: list[str] = response.json()["problems"]
    return found


def test_a_stage_exercise_must_exist(editor: Editor, catalogue: ContentBundle) -> None:
    response = editor.create("programs", program("new-plan", ["hip-pain"], [["bridge", "nope"]]))
    assert response.status_code == 422
    assert problems_of(response) == ["program 'new-plan' stage 1: exercise 'nope' does not exist"]


def test_a_published_program_needs_a_stage_and_a_draft_may_have_none(
    editor: Editor, catalogue: ContentBundle
) -> None:
    empty = program("new-plan", ["hip-pain"], [])
    refused = editor.create("programs", empty)
    assert refused.status_code == 422
    assert problems_of(refused) == [
        "program 'new-plan': a published program needs at least one stage"
    ]
    assert editor.create("programs", empty | {"status": "draft"}).status_code == 201
    assert editor.edit("/programs/new-plan", status="published").status_code == 422


def test_the_seed_path_refuses_a_published_program_without_stages(
    database: Database, catalogue: ContentBundle
) -> None:
    bundle = ContentBundle.model_validate({"programs": [program("new-plan", ["hip-pain"], [])]})
    with pytest.raises(ContentError, match="at least one stage"), database.write_session() as s:
        apply_content(s, bundle)


def test_stage_positions_run_one_to_n(editor: Editor, catalogue: ContentBundle) -> None:
    document = program("new-plan", ["hip-pain"], [["bridge"], ["clam"]])
    document["stages"][1]["position"] = 3
    response = editor.create("programs", document)
    assert response.status_code == 422
    assert "1, 2, 3" in response.json()["errors"][0]["detail"]


def test_a_catalogue_program_belongs_to_a_condition(
    editor: Editor, catalogue: ContentBundle
) -> None:
    response = editor.create("programs", program("new-plan", [], [["bridge"]]))
    assert response.status_code == 422
    assert "at least one condition" in problems_of(response)[0]


def test_catalogue_program_slugs_cannot_take_the_form_of_a_clinic_program(
    editor: Editor, catalogue: ContentBundle
) -> None:
    response = editor.create("programs", program("clinic-7-knee-plan", ["hip-pain"], [["bridge"]]))
    assert response.status_code == 422
    assert problems_of(response) == [
        "program 'clinic-7-knee-plan': slugs starting 'clinic-<number>-' are kept for "
        "clinics' own programs"
    ]
    assert editor.create("programs", program("clinic-tips", ["hip-pain"], [["bridge"]])).is_success


def test_an_exercise_placed_in_a_program_cannot_be_deleted(
    editor: Editor, catalogue: ContentBundle
) -> None:
    response = editor.remove("/exercises/plank")
    assert response.status_code == 409
    assert response.json()["programs"] == ["hip-plan"]
    assert problems_of(response) == ["exercise 'plank' is placed in program 'hip-plan' stage 2"]
    assert editor.get("/exercises/plank").status_code == 200


def test_a_condition_a_program_belongs_to_cannot_be_deleted(
    editor: Editor, catalogue: ContentBundle
) -> None:
    response = editor.remove("/conditions/hip-pain")
    assert response.status_code == 409
    assert response.json()["programs"] == ["hip-plan"]


@pytest.fixture
def followed(
    client: TestClient, database: Database, catalogue: ContentBundle, member: Person
) -> int:
    """`member` follows hip-plan, at stage 2; returns the enrollment's id."""
    enrollment_id = enroll(client, database, member, "hip-plan")
    move_to_stage(database, member, 2)
    return enrollment_id


def test_a_program_people_follow_cannot_be_deleted_or_unpublished(
    editor: Editor, member: Person, followed: int
) -> None:
    named = [{"id": followed, "user_id": member.id, "program": "hip-plan", "stage": 2}]
    deleted = editor.remove("/programs/hip-plan")
    assert deleted.status_code == 409
    assert deleted.json()["enrollments"] == named
    unpublished = editor.edit("/programs/hip-plan", status="draft")
    assert unpublished.status_code == 409
    assert unpublished.json()["enrollments"] == named
    assert f"1 enrollment(s): {followed}" in problems_of(unpublished)[0]
    assert editor.read("/programs/hip-plan")[0]["status"] == "published"


def test_stages_someone_is_at_cannot_be_removed(editor: Editor, followed: int) -> None:
    document, etag = editor.read("/programs/hip-plan")
    shorter = editor.put("/programs/hip-plan", document | {"stages": document["stages"][:1]}, etag)
    assert shorter.status_code == 409
    assert [item["id"] for item in shorter.json()["enrollments"]] == [followed]
    for position in (1, 2):
        removed = editor.delete(f"/programs/hip-plan/stages/{position}", etag)
        assert removed.status_code == 409
        assert [item["id"] for item in removed.json()["enrollments"]] == [followed]
    assert editor.read("/programs/hip-plan") == (document, etag)


def test_the_seed_path_refuses_to_unpublish_a_followed_program(
    database: Database, followed: int
) -> None:
    unpublished = program("hip-plan", ["hip-pain"], [["bridge"], ["plank"]], status="draft")
    bundle = ContentBundle.model_validate({"programs": [unpublished]})
    with pytest.raises(ContentConflictError), database.write_session() as session:
        apply_content(session, bundle)


def test_a_stage_beyond_everyone_can_be_removed_and_later_stages_move_up(
    client: TestClient,
    editor: Editor,
    database: Database,
    catalogue: ContentBundle,
    member: Person,
) -> None:
    enroll(client, database, member, "hip-plan")  # at stage 1
    document, etag = editor.read("/programs/hip-plan")
    third = document["stages"][1] | {"position": 3, "name": "Stage 3"}
    grown = editor.put(
        "/programs/hip-plan", document | {"stages": [*document["stages"], third]}, etag
    )
    assert grown.status_code == 200, grown.text
    assert editor.delete("/programs/hip-plan/stages/2", grown.headers["etag"]).status_code == 204
    stages = editor.read("/programs/hip-plan")[0]["stages"]
    assert [(stage["position"], stage["name"]) for stage in stages] == [
        (1, "Stage 1"),
        (2, "Stage 3"),
    ]
