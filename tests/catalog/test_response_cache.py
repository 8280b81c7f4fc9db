"""Repeat catalogue reads come from memory, and never outlive their content or the viewer's
standing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.access.policy import Role
from app.authoring.content import apply_content
from app.catalog.response_cache import catalogue_etag_parts
from app.catalog.schemas import ContentBundle
from app.core.db import Database
from tests.conftest import Person, PersonFactory
from tests.factories import exercise
from tests.progress.conftest import enroll, log, session_body, stage_slugs

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


def test_catalogue_etags_carry_a_version_and_a_viewer_tag() -> None:
    assert catalogue_etag_parts('W/"c12-anon"') == (12, "anon")
    assert catalogue_etag_parts('W/"c12-1f2e3d4c5b6a7988"') == (12, "1f2e3d4c5b6a7988")
    assert catalogue_etag_parts('W/"abc"') is None
    assert catalogue_etag_parts('W/"cx-anon"') is None
    assert catalogue_etag_parts('W/"c12-"') is None
    assert catalogue_etag_parts('"c12-anon"') is None


# ---------------------------------------------------------------------------
# Signed-in reads, replayed while the viewer is remembered


def stage_two_lock(client: TestClient, person: Person) -> dict[str, Any]:
    detail = client.get(PROGRAM, headers=person.headers).json()
    lock: dict[str, Any] = detail["stages"][1]["exercises"][0]["exercise"]["lock"]
    return lock


@pytest.mark.usefixtures("seeded")
def test_repeat_signed_in_read_returns_the_same_response(
    remembering_client: TestClient, member: Person
) -> None:
    first = remembering_client.get(PROGRAM, headers=member.headers)
    second = remembering_client.get(PROGRAM, headers=member.headers)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    for header in ("etag", "cache-control", "vary", "content-type"):
        assert second.headers.get(header) == first.headers.get(header)
    assert first.headers["cache-control"] == "private, no-cache"


@pytest.mark.usefixtures("seeded")
def test_a_logged_session_changes_the_hint_and_the_etag_of_the_next_read(
    remembering_client: TestClient, member: Person
) -> None:
    slug = PROGRAM.rsplit("/", 1)[1]
    enroll(remembering_client, member, slug)
    before = remembering_client.get(PROGRAM, headers=member.headers)
    assert "6 more sessions" in stage_two_lock(remembering_client, member)["unlock_hint"]

    level1 = stage_slugs(remembering_client, slug, 1)
    assert log(remembering_client, member, session_body(slug, 1, level1)).status_code == 201

    after = remembering_client.get(
        PROGRAM, headers={**member.headers, "If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200  # not 304: the hint in the body changed
    assert after.headers["etag"] != before.headers["etag"]
    assert "5 more sessions" in stage_two_lock(remembering_client, member)["unlock_hint"]


@pytest.mark.usefixtures("seeded")
def test_people_who_stand_in_different_places_get_their_own_body_of_one_url(
    remembering_client: TestClient, make_person: PersonFactory
) -> None:
    enrolled, newcomer, clinician = (
        make_person(),
        make_person(),
        make_person(Role.CLINICIAN),
    )
    enroll(remembering_client, enrolled, PROGRAM.rsplit("/", 1)[1])
    for _ in range(2):  # each read twice: the second one is answered from memory
        assert "more sessions" in stage_two_lock(remembering_client, enrolled)["unlock_hint"]
        assert "Complete stage 1" in stage_two_lock(remembering_client, newcomer)["unlock_hint"]
        detail = remembering_client.get(PROGRAM, headers=clinician.headers).json()
        accesses = {i["exercise"]["access"] for s in detail["stages"] for i in s["exercises"]}
        assert accesses == {"unlocked"}


@pytest.mark.usefixtures("seeded")
def test_a_content_edit_is_served_on_the_next_signed_in_read(
    remembering_client: TestClient, database: Database, member: Person
) -> None:
    rename_bridge(database, "Before")
    for _ in range(2):
        read = remembering_client.get("/v1/exercises/bridge", headers=member.headers)
        assert read.json()["name"] == "Before"

    rename_bridge(database, "After")

    read = remembering_client.get("/v1/exercises/bridge", headers=member.headers)
    assert read.json()["name"] == "After"
