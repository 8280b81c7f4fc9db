"""Optimistic concurrency: each write names the version it was made from."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from anyio import to_thread

from app.catalog.schemas import ContentBundle
from app.core.db import Database
from tests.authoring.conftest import Editor

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


def test_an_edit_waits_for_the_writer_turn_like_every_request_write(
    editor: Editor, catalogue: ContentBundle, database: Database
) -> None:
    """On SQLite an edit queues behind session writes in the event loop; it never races
    them for the database lock until the busy timeout fails it."""
    if not database.is_sqlite:
        pytest.skip("the writer turn orders SQLite writers only")
    document, etag = editor.read("/exercises/bridge")
    held, release = threading.Event(), threading.Event()

    async def another_request_writing() -> None:
        async with database.turn_to_write():
            held.set()
            await to_thread.run_sync(release.wait)

    portal = editor.client.portal
    assert portal is not None
    portal.start_task_soon(another_request_writing)
    answers: list[Any] = []
    edit = threading.Thread(
        target=lambda: answers.append(
            editor.put("/exercises/bridge", document | {"name": "Queued"}, etag)
        )
    )
    try:
        assert held.wait(5)
        edit.start()
        edit.join(0.5)
        assert edit.is_alive()  # still waiting for its turn
        assert not answers
    finally:
        release.set()
    edit.join(10)
    assert answers[0].status_code == 200
    assert editor.read("/exercises/bridge")[0]["name"] == "Queued"
