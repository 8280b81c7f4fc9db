"""Repeat anonymous catalogue reads come from memory, and never outlive their content."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.catalog.response_cache import anonymous_etag_version
from app.catalog.schemas import ContentBundle
from app.catalog.service import apply_content
from app.core.db import Database
from tests.conftest import Person
from tests.factories import exercise

PROGRAM = "/v1/programs/whole-leg-rehabilitation"


def rename_bridge(database: Database, name: str) -> None:
    bundle = ContentBundle.model_validate({"exercises": [exercise("bridge", name=name)]})
    with database.write_session() as session:
        apply_content(session, bundle)


def test_repeat_anonymous_read_returns_the_same_response(
    client: TestClient, seeded: object
) -> None:
    first = client.get(PROGRAM)
    second = client.get(PROGRAM)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    for header in ("etag", "cache-control", "vary", "content-type"):
        assert second.headers.get(header) == first.headers.get(header)


def test_signed_in_viewer_never_gets_the_anonymous_body_of_the_same_url(
    client: TestClient, seeded: object, member: Person
) -> None:
    client.get(PROGRAM)
    client.get(PROGRAM)  # the anonymous body is now held in memory

    personal = client.get(PROGRAM, headers=member.headers)

    assert personal.headers["cache-control"].startswith("private")
    first_stage = personal.json()["stages"][0]["exercises"]
    assert {item["exercise"]["access"] for item in first_stage} == {"unlocked"}


def test_a_content_edit_is_served_on_the_next_anonymous_read(
    client: TestClient, database: Database
) -> None:
    rename_bridge(database, "Before")
    assert client.get("/v1/exercises/bridge").json()["name"] == "Before"
    assert client.get("/v1/exercises/bridge").json()["name"] == "Before"

    rename_bridge(database, "After")

    assert client.get("/v1/exercises/bridge").json()["name"] == "After"


def test_matching_if_none_match_on_a_remembered_read_answers_304(
    client: TestClient, seeded: object
) -> None:
    etag = client.get(PROGRAM).headers["etag"]
    client.get(PROGRAM)

    response = client.get(PROGRAM, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_query_strings_are_remembered_separately(client: TestClient, seeded: object) -> None:
    stretches = client.get("/v1/exercises", params={"q": "stretch", "limit": 5}).json()
    client.get("/v1/exercises", params={"q": "stretch", "limit": 5})

    bridges = client.get("/v1/exercises", params={"q": "bridge", "limit": 5}).json()

    assert bridges["items"] != stretches["items"]
    assert all("bridge" in item["name"].casefold() for item in bridges["items"])


def test_invalid_query_is_refused_every_time(client: TestClient, seeded: object) -> None:
    for _ in range(2):
        response = client.get("/v1/exercises", params={"limit": 1000})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


def test_only_anonymous_catalogue_etags_carry_a_version() -> None:
    assert anonymous_etag_version('W/"c12-anon"') == 12
    assert anonymous_etag_version('W/"c12-1f2e3d4c5b6a7988"') is None
    assert anonymous_etag_version('W/"abc"') is None
    assert anonymous_etag_version('W/"cx-anon"') is None
