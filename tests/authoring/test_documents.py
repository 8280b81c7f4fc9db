"""Creating, reading, listing, replacing and deleting documents; slugs are identities."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.db import Database
from tests.authoring.conftest import ADMIN, Editor
from tests.conftest import ClinicFactory
from tests.factories import condition, exercise, program


def test_creating_answers_201_with_location_and_the_stored_document(editor: Editor) -> None:
    response = editor.create("exercises", exercise("wall-sit", status="draft"))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{ADMIN}/exercises/wall-sit"
    assert response.json()["status"] == "draft"
    document, etag = editor.read("/exercises/wall-sit")
    assert document == response.json()
    assert etag == response.headers["etag"]


def test_a_taken_slug_is_409(editor: Editor, catalogue: ContentBundle) -> None:
    response = editor.create("exercises", exercise("bridge"))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


def test_a_document_read_can_be_written_back_as_it_is(
    editor: Editor, catalogue: ContentBundle
) -> None:
    for path in ("/conditions/hip-pain", "/exercises/bridge", "/programs/hip-plan"):
        document, etag = editor.read(path)
        response = editor.put(path, document, etag)
        assert response.status_code == 200, response.text
        assert response.json() == document
        assert response.headers["etag"] == etag


def test_a_program_document_carries_its_stages_rules_and_dosage(
    editor: Editor, catalogue: ContentBundle
) -> None:
    document, _ = editor.read("/programs/hip-plan")
    assert document["conditions"] == ["hip-pain"]
    assert [stage["position"] for stage in document["stages"]] == [1, 2]
    first = document["stages"][0]
    assert first["rule"] == {
        "min_days": 7,
        "min_sessions": 3,
        "all_exercises_easy": True,
        "max_pain": 6,
    }
    assert first["exercises"][0] == {
        "exercise": "bridge",
        "sets": 2,
        "reps": 10,
        "hold_seconds": None,
        "sides": "bilateral",
        "times_per_day": 1,
        "days_per_week": 7,
        "notes": None,
    }


def test_a_body_slug_that_differs_from_the_path_is_refused(
    editor: Editor, catalogue: ContentBundle
) -> None:
    response = editor.edit("/exercises/bridge", slug="bridge-two")
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/slug"
    assert editor.get("/exercises/bridge-two").status_code == 404


def test_unknown_fields_are_refused_as_seed_refuses_them(
    editor: Editor, catalogue: ContentBundle
) -> None:
    response = editor.edit("/exercises/bridge", colour="red")
    assert response.status_code == 422


def test_lists_are_paged_and_filter_by_status_and_words(
    editor: Editor, catalogue: ContentBundle
) -> None:
    editor.create("exercises", exercise("side-bridge", status="draft"))
    everything = editor.get("/exercises").json()
    assert everything["total"] == 5
    assert set(everything) == {"items", "total", "limit", "offset"}
    drafts = editor.get("/exercises", params={"status": "draft"}).json()
    assert [item["slug"] for item in drafts["items"]] == ["side-bridge"]
    bridges = editor.get("/exercises", params={"q": "BRIDGE"}).json()
    assert sorted(item["slug"] for item in bridges["items"]) == ["bridge", "side-bridge"]
    page = editor.get("/exercises", params={"limit": 2, "offset": 4}).json()
    assert (len(page["items"]), page["total"]) == (1, 5)


def test_deleting_answers_204_and_the_document_is_gone(
    editor: Editor, catalogue: ContentBundle
) -> None:
    editor.create("exercises", exercise("wall-sit"))
    assert editor.remove("/exercises/wall-sit").status_code == 204
    assert editor.get("/exercises/wall-sit").status_code == 404


def test_a_clinics_program_is_not_the_admins_business(
    client: TestClient,
    editor: Editor,
    database: Database,
    catalogue: ContentBundle,
    make_clinic: ClinicFactory,
) -> None:
    clinic = make_clinic()
    own = ContentBundle.model_validate({"programs": [program("home-plan", [], [["bridge"]])]})
    with database.write_session() as session:
        apply_content(session, own, clinic_id=clinic.id)
    assert editor.get("/programs/home-plan").status_code == 404
    assert [item["slug"] for item in editor.get("/programs").json()["items"]] == ["hip-plan"]
    stray = program("home-plan", ["hip-pain"], [["bridge"]])
    assert editor.put("/programs/home-plan", stray, '"x"').status_code == 404
    assert editor.delete("/programs/home-plan", '"x"').status_code == 404
    assert editor.create("programs", stray).status_code == 409


def test_conditions_keep_their_related_conditions_in_order(editor: Editor) -> None:
    editor.create("conditions", condition("core"))
    editor.create("conditions", condition("back"))
    response = editor.create("conditions", condition("hip", related=["core", "back"]))
    assert response.status_code == 201, response.text
    assert editor.read("/conditions/hip")[0]["related"] == ["core", "back"]
