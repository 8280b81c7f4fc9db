"""The audit trail: who changed what, when, with the documents before and after."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.access.policy import Role
from app.catalog.schemas import ContentBundle
from tests.authoring.conftest import Editor
from tests.conftest import PersonFactory
from tests.factories import exercise


def trail(editor: Editor, **filters: Any) -> list[dict[str, Any]]:
    response = editor.get("/audit", params=filters)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_create_update_and_delete_are_recorded_newest_first(editor: Editor) -> None:
    created = editor.create("exercises", exercise("wall-sit", status="draft")).json()
    updated = editor.edit("/exercises/wall-sit", status="published").json()
    assert editor.remove("/exercises/wall-sit").status_code == 204
    entries = trail(editor, kind="exercise", slug="wall-sit")
    assert [(e["action"], e["before"], e["after"]) for e in entries] == [
        ("delete", updated, None),
        ("update", created, updated),
        ("create", None, created),
    ]
    assert {e["actor"]["email"] for e in entries} == {editor.person.email}
    assert {e["actor"]["id"] for e in entries} == {editor.person.id}


def test_a_stage_write_is_recorded_as_a_program_update(
    editor: Editor, catalogue: ContentBundle
) -> None:
    stage, etag = editor.read("/programs/hip-plan/stages/2")
    assert (
        editor.put("/programs/hip-plan/stages/2", stage | {"name": "Level 2"}, etag).status_code
        == 200
    )
    [entry] = trail(editor, kind="program")
    assert (entry["action"], entry["slug"]) == ("update", "hip-plan")
    assert entry["before"]["stages"][1]["name"] == "Stage 2"
    assert entry["after"]["stages"][1]["name"] == "Level 2"


def test_refused_and_unchanged_writes_leave_no_entry(
    editor: Editor, catalogue: ContentBundle
) -> None:
    document, etag = editor.read("/exercises/bridge")
    assert editor.put("/exercises/bridge", document, etag).status_code == 200
    assert editor.put("/exercises/bridge", document | {"name": "X"}, '"stale"').status_code == 412
    assert editor.remove("/exercises/plank").status_code == 409
    assert trail(editor) == []


def test_the_trail_filters_by_actor_and_pages(
    client: TestClient, editor: Editor, make_person: PersonFactory
) -> None:
    other = Editor(client, make_person(Role.ADMIN))
    editor.create("exercises", exercise("wall-sit"))
    other.create("exercises", exercise("step-up"))
    mine = trail(editor, actor=editor.person.email.upper())
    assert [e["slug"] for e in mine] == ["wall-sit"]
    page = editor.get("/audit", params={"limit": 1}).json()
    assert (page["total"], [e["slug"] for e in page["items"]]) == (2, ["step-up"])
