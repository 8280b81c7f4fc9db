"""Optimistic concurrency: each write names the version it was made from."""

from __future__ import annotations

from app.catalog.schemas import ContentBundle
from tests.admin.conftest import Editor

STAGE = {
    "name": "Stage 3",
    "guidance": "Harder now.",
    "exercises": [{"exercise": "lunge", "sets": 3, "reps": 8}],
}


def test_a_write_without_if_match_is_428_and_changes_nothing(
    editor: Editor, catalogue: ContentBundle
) -> None:
    document, etag = editor.read("/exercises/bridge")
    response = editor.put("/exercises/bridge", document | {"name": "Renamed"}, None)
    assert response.status_code == 428
    assert response.headers["content-type"] == "application/problem+json"
    assert editor.delete("/exercises/bridge", None).status_code == 428
    assert editor.read("/exercises/bridge") == (document, etag)


def test_a_stale_etag_is_412_and_the_other_editors_work_stands(
    editor: Editor, catalogue: ContentBundle
) -> None:
    document, etag = editor.read("/exercises/bridge")
    first = editor.put("/exercises/bridge", document | {"name": "First edit"}, etag)
    assert first.status_code == 200
    second = editor.put("/exercises/bridge", document | {"name": "Second edit"}, etag)
    assert second.status_code == 412
    assert second.json()["current_etag"] == first.headers["etag"]
    assert editor.read("/exercises/bridge")[0]["name"] == "First edit"
    assert editor.delete("/exercises/bridge", etag).status_code == 412


def test_every_stage_write_uses_the_programs_etag(editor: Editor, catalogue: ContentBundle) -> None:
    _, etag = editor.read("/programs/hip-plan")
    stages = "/v1/admin/programs/hip-plan/stages"
    no_precondition = editor.client.post(stages, headers=editor.headers, json=STAGE)
    assert no_precondition.status_code == 428
    added = editor.client.post(stages, headers=editor.headers | {"If-Match": etag}, json=STAGE)
    assert added.status_code == 201, added.text
    assert added.headers["location"] == f"{stages}/3"
    assert added.headers["etag"] == editor.read("/programs/hip-plan")[1]
    for stale in (
        editor.put("/programs/hip-plan/stages/3", STAGE, etag),
        editor.delete("/programs/hip-plan/stages/3", etag),
        editor.put("/programs/hip-plan/stages/3", STAGE, None),
    ):
        assert stale.status_code in (412, 428)
    assert len(editor.read("/programs/hip-plan")[0]["stages"]) == 3


def test_if_none_match_with_the_current_etag_is_304(
    editor: Editor, catalogue: ContentBundle
) -> None:
    _, etag = editor.read("/conditions/hip-pain")
    response = editor.get("/conditions/hip-pain", headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_the_etag_follows_the_stored_document(editor: Editor, catalogue: ContentBundle) -> None:
    _, before = editor.read("/programs/hip-plan")
    document, etag = editor.read("/programs/hip-plan/stages/2")
    assert etag == before
    response = editor.put("/programs/hip-plan/stages/2", document | {"name": "Advanced"}, etag)
    assert response.status_code == 200, response.text
    assert editor.read("/programs/hip-plan")[1] != before
