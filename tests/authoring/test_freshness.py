"""An admin's edit is served by the very next request, through every cached read path.

The app here checks the content version only once an hour, so nothing below
can pass by polling: the edit is seen because the write itself refreshes the
process's catalogue (other processes notice the version within a poll).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.authoring.conftest import Editor
from tests.conftest import Person
from tests.factories import exercise


@pytest.fixture
def slow_poll_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    hourly = settings.model_copy(update={"content_poll_seconds": 3600})
    with TestClient(create_app(hourly, database=database)) as test_client:
        yield test_client


def bridge_name(client: TestClient, headers: dict[str, str]) -> str:
    name: str = client.get("/v1/exercises/bridge", headers=headers).json()["name"]
    return name


def stage_one_names(client: TestClient, headers: dict[str, str]) -> list[str]:
    shown = client.get("/v1/programs/hip-plan", headers=headers).json()
    return [item["exercise"]["name"] for item in shown["stages"][0]["exercises"]]


@pytest.mark.usefixtures("catalogue")
def test_an_edit_is_visible_to_the_next_anonymous_and_signed_in_request(
    slow_poll_client: TestClient, settings: Settings, admin: Person, member: Person
) -> None:
    client = slow_poll_client
    editor = Editor(client, admin)
    viewers = [{}, member.headers]
    for headers in viewers:  # warm every cache: snapshot, rendered bodies, whole responses
        for _ in range(2):
            assert bridge_name(client, headers) == "Bridge"
            assert stage_one_names(client, headers) == ["Bridge", "Clam"]

    # A change made by another process (its own engine) waits for the poll: the caches
    # are warm.
    behind = ContentBundle.model_validate({"exercises": [exercise("bridge", name="Behind")]})
    other_process = Database.from_settings(settings)
    with other_process.write_session() as session:
        apply_content(session, behind)
    other_process.dispose()
    assert bridge_name(client, {}) == "Bridge"

    assert editor.edit("/exercises/bridge", name="Glute Bridge").status_code == 200
    for headers in viewers:
        assert bridge_name(client, headers) == "Glute Bridge"
        assert stage_one_names(client, headers) == ["Glute Bridge", "Clam"]
        listed = client.get("/v1/exercises", params={"q": "glute"}, headers=headers).json()
        assert [item["slug"] for item in listed["items"]] == ["bridge"]


@pytest.mark.usefixtures("catalogue")
def test_publishing_and_unpublishing_show_at_once(
    slow_poll_client: TestClient, admin: Person
) -> None:
    client = slow_poll_client
    editor = Editor(client, admin)
    assert client.get("/v1/exercises/clam").status_code == 200
    assert editor.edit("/exercises/clam", status="draft").status_code == 200
    assert client.get("/v1/exercises/clam").status_code == 404
    assert stage_one_names(client, {}) == ["Bridge"]
    assert editor.edit("/exercises/clam", status="published").status_code == 200
    assert client.get("/v1/exercises/clam").status_code == 200
