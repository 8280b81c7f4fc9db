"""ETags on every GET, 304 on If-None-Match, and who may cache what."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.authoring.content import apply_content
from app.catalog.models import Program
from app.catalog.schemas import ContentBundle
from app.core.db import Database
from app.progress.models import Enrollment
from tests.conftest import Person
from tests.factories import condition, exercise, program


@pytest.fixture
def catalogue(database: Database) -> ContentBundle:
    bundle = ContentBundle.model_validate(
        {
            "exercises": [exercise("a"), exercise("b")],
            "conditions": [condition("hip")],
            "programs": [program("p", ["hip"], [["a"], ["b"]])],
        }
    )
    with database.write_session() as session:
        apply_content(session, bundle)
    return bundle


CATALOGUE_PATHS = [
    "/v1/conditions",
    "/v1/conditions/hip",
    "/v1/programs",
    "/v1/programs/p",
    "/v1/exercises",
    "/v1/exercises/a",
]


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("path", [*CATALOGUE_PATHS, "/v1/me", "/healthz", "/openapi.json"])
def test_every_get_has_an_etag_and_answers_304(
    client: TestClient, member: Person, path: str
) -> None:
    first = client.get(path, headers=member.headers)
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = client.get(path, headers={**member.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("path", CATALOGUE_PATHS)
def test_anonymous_catalogue_responses_are_publicly_cacheable(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.headers["cache-control"] == "public, max-age=60"


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("path", ["/v1/programs/p", "/v1/exercises", "/v1/exercises/a"])
def test_personalised_responses_are_private_and_vary_on_authorization(
    client: TestClient, member: Person, path: str
) -> None:
    personal = client.get(path, headers=member.headers)
    assert personal.headers["cache-control"].startswith("private")
    assert "Authorization" in personal.headers["vary"]
    anonymous = client.get(path)
    assert "Authorization" in anonymous.headers["vary"]
    assert anonymous.headers["etag"] != personal.headers["etag"]


def test_a_content_change_changes_the_etag(
    client: TestClient, database: Database, catalogue: ContentBundle
) -> None:
    etag = client.get("/v1/exercises/a").headers["etag"]
    catalogue.exercises[0].name = "Renamed"
    with database.write_session() as session:
        apply_content(session, catalogue)
    response = client.get("/v1/exercises/a", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"


@pytest.mark.usefixtures("catalogue")
def test_progress_changes_the_personal_etag(
    client: TestClient, database: Database, member: Person
) -> None:
    etag = client.get("/v1/programs/p", headers=member.headers).headers["etag"]
    with database.write_session() as session:
        program_id = session.exec(select(Program.id).where(Program.slug == "p")).one()
        assert program_id is not None
        session.add(Enrollment(user_id=member.id, program_id=program_id, current_stage=2))
    response = client.get("/v1/programs/p", headers={**member.headers, "If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["stages"][1]["exercises"][0]["exercise"]["access"] == "unlocked"


def test_errors_carry_no_etag(client: TestClient) -> None:
    assert "etag" not in client.get("/v1/conditions/none").headers
