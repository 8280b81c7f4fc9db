"""Admins author instruments as data; a published version never changes, a new one is added."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.core.models import utcnow
from app.outcomes.instruments import apply_seed, read_seed
from app.outcomes.models import Instrument
from tests.conftest import Person
from tests.outcomes.synthetic import synthetic

BASE = "/v1/admin/instruments"


def create(client: TestClient, admin: Person, slug: str = "synthetic") -> dict[str, Any]:
    response = client.post(BASE, headers=admin.headers, json={"slug": slug, **synthetic()})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_admin_creates_a_draft_and_publishes_it(client: TestClient, admin: Person) -> None:
    created = client.post(BASE, headers=admin.headers, json={"slug": "synthetic", **synthetic()})
    assert created.status_code == 201
    assert created.headers["Location"] == f"{BASE}/synthetic/versions/1"
    assert (created.json()["version"], created.json()["status"]) == (1, "draft")
    published = client.post(f"{BASE}/synthetic/versions/1/publish", headers=admin.headers)
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    read = client.get(f"{BASE}/synthetic/versions/1", headers=admin.headers).json()
    assert read["scoring"]["subscales"][1]["items"] == ["c", "d"]


def test_a_draft_can_be_edited_but_a_published_version_only_gets_a_successor(
    client: TestClient, admin: Person
) -> None:
    create(client, admin)
    edited = {**synthetic(), "title": "Synthetic, reworded"}
    assert (
        client.put(f"{BASE}/synthetic/versions/1", headers=admin.headers, json=edited).json()[
            "title"
        ]
        == "Synthetic, reworded"
    )
    client.post(f"{BASE}/synthetic/versions/1/publish", headers=admin.headers)

    refused = client.put(f"{BASE}/synthetic/versions/1", headers=admin.headers, json=synthetic())
    assert refused.status_code == 409
    assert "new version" in refused.json()["detail"]
    again = client.post(f"{BASE}/synthetic/versions/1/publish", headers=admin.headers)
    assert again.status_code == 409

    added = client.post(f"{BASE}/synthetic/versions", headers=admin.headers, json=synthetic("mean"))
    assert added.status_code == 201
    assert (added.json()["version"], added.json()["status"]) == (2, "draft")
    second = client.post(f"{BASE}/synthetic/versions", headers=admin.headers, json=synthetic())
    assert second.status_code == 409  # one draft at a time
    listed = client.get(BASE, headers=admin.headers, params={"slug": "synthetic"}).json()
    assert [(v["version"], v["status"]) for v in listed["items"]] == [
        (2, "draft"),
        (1, "published"),
    ]
    assert listed["total"] == 2


def test_a_second_instrument_with_a_taken_slug_is_a_conflict(
    client: TestClient, admin: Person
) -> None:
    create(client, admin)
    again = client.post(BASE, headers=admin.headers, json={"slug": "synthetic", **synthetic()})
    assert again.status_code == 409
    assert "/versions" in again.json()["detail"]


def test_an_inconsistent_definition_is_a_422_naming_the_problem(
    client: TestClient, admin: Person, database: Database
) -> None:
    body = {"slug": "broken", **synthetic()}
    body["scoring"]["subscales"][0]["items"] = ["a", "nope"]
    refused = client.post(BASE, headers=admin.headers, json=body)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert "nope" in refused.text
    with database.read_session() as session:
        assert session.exec(select(Instrument)).first() is None


def test_unknown_instruments_and_versions_are_404(client: TestClient, admin: Person) -> None:
    assert client.get(f"{BASE}/nothing/versions/1", headers=admin.headers).status_code == 404
    missing = client.post(f"{BASE}/nothing/versions", headers=admin.headers, json=synthetic())
    assert missing.status_code == 404


def test_only_admins_reach_instruments(client: TestClient, member: Person) -> None:
    assert client.get(BASE).status_code == 401
    assert client.get(BASE, headers=member.headers).status_code == 403
    body = {"slug": "synthetic", **synthetic()}
    assert client.post(BASE, headers=member.headers, json=body).status_code == 403


def test_the_seed_publishes_the_three_free_instruments_once(
    client: TestClient, admin: Person, database: Database
) -> None:
    definitions = read_seed(PROJECT_ROOT / "seed" / "instruments")
    assert sorted(definitions) == ["functional-scale", "global-change", "pain-rating"]
    with database.write_session() as session:
        assert apply_seed(session, definitions, now=utcnow()) == 3
    with database.write_session() as session:
        assert apply_seed(session, definitions, now=utcnow()) == 0
    listed = client.get(BASE, headers=admin.headers, params={"status": "published"}).json()
    assert sorted(v["slug"] for v in listed["items"]) == sorted(definitions)
    scale = definitions["functional-scale"]
    assert len(scale.items) == 5
    assert [item.required for item in scale.items] == [True, False, False, False, False]
