"""Finding exercises: relevance order, `sort`, the `source` filter and the facets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.authoring.importer import import_free_exercise_db
from app.catalog.schemas import ExerciseFacets
from app.core.db import Database
from tests.catalog.test_importer import REAL_LIBRARY, fedb_record, write_library

pytestmark = pytest.mark.usefixtures("seeded")


@pytest.fixture
def imported(database: Database, tmp_path: Path) -> None:
    """A few imported exercises that compete with the authored ones for "hamstring stretch"."""
    records = [
        fedb_record("Hamstring_Stretch", primaryMuscles=["hamstrings"], category="stretching"),
        fedb_record("Alternating_Hamstring_Stretch", primaryMuscles=["hamstrings"]),
        fedb_record("Stiff_Leg_Pull", primaryMuscles=["hamstrings"], category="stretching"),
        fedb_record("Ab_Roller", primaryMuscles=["abdominals"], equipment="other"),
    ]
    with database.write_session() as session:
        import_free_exercise_db(session, write_library(tmp_path, records))


def slugs(client: TestClient, **params: str) -> list[str]:
    body = client.get("/v1/exercises", params={"limit": "100", **params}).json()
    return [item["slug"] for item in body["items"]]


def names(client: TestClient, **params: str) -> list[str]:
    body = client.get("/v1/exercises", params={"limit": "100", **params}).json()
    return [item["name"] for item in body["items"]]


@pytest.mark.usefixtures("imported")
def test_a_name_match_comes_first_and_authored_before_imported(client: TestClient) -> None:
    found = slugs(client, q="hamstring stretch")

    # The authored "Hamstring Strap Stretch" first, then imported names holding both
    # words; exercises matching on their summary alone ("... for the hamstrings") last.
    assert found[0] == "hamstring-strap-stretch"
    assert found[1:3] == ["fedb-alternating-hamstring-stretch", "fedb-hamstring-stretch"]
    assert "fedb-stiff-leg-pull" in found[3:]


@pytest.mark.usefixtures("imported")
def test_without_a_query_authored_exercises_come_before_imported_ones(
    client: TestClient,
) -> None:
    listed = client.get("/v1/exercises", params={"limit": "100"}).json()["items"]
    imported = [item["slug"].startswith("fedb-") for item in listed]
    assert imported == sorted(imported)  # every False (authored) before every True
    authored_names = [item["name"] for item in listed if not item["slug"].startswith("fedb-")]
    assert authored_names == sorted(authored_names, key=str.casefold)


@pytest.mark.usefixtures("imported")
def test_sort_by_name_mixes_sources_in_name_order(client: TestClient) -> None:
    ascending = names(client, sort="name")
    descending = names(client, sort="-name")

    assert ascending == sorted(ascending, key=str.casefold)
    # Imported, yet before the authored exercises that follow it by name.
    assert ascending.index("Ab Roller") < ascending.index("Butterfly Stretch")
    assert descending == ascending[::-1]


def test_sort_by_difficulty_goes_from_beginner_to_advanced(client: TestClient) -> None:
    body = client.get("/v1/exercises", params={"limit": "100", "sort": "difficulty"}).json()
    rank = {"beginner": 0, "intermediate": 1, "advanced": 2}
    levels = [rank[item["difficulty"]] for item in body["items"]]
    assert levels == sorted(levels)
    assert len(set(levels)) > 1


@pytest.mark.usefixtures("imported")
def test_the_source_filter_keeps_authored_or_imported_exercises(client: TestClient) -> None:
    authored = slugs(client, source="authored")
    imported = slugs(client, source="imported")

    assert authored
    assert not any(slug.startswith("fedb-") for slug in authored)
    assert sorted(imported) == [
        "fedb-ab-roller",
        "fedb-alternating-hamstring-stretch",
        "fedb-hamstring-stretch",
        "fedb-stiff-leg-pull",
    ]
    assert len(slugs(client)) == len(authored) + len(imported)


@pytest.mark.parametrize(("param", "value"), [("sort", "popularity"), ("source", "mine")])
def test_an_unknown_sort_or_source_is_a_problem(client: TestClient, param: str, value: str) -> None:
    response = client.get("/v1/exercises", params={param: value})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def facets(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/v1/exercises/facets", params=params)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    ExerciseFacets.model_validate(body)
    return body


def counts(body: dict[str, Any], facet: str) -> dict[str, int]:
    return {entry["value"]: entry["count"] for entry in body[facet]}


@pytest.mark.usefixtures("imported")
def test_facet_counts_are_what_each_filter_would_find(client: TestClient) -> None:
    body = facets(client)

    assert body["total"] == len(slugs(client))
    for facet, param in [
        ("region", "region"),
        ("muscle", "muscle"),
        ("equipment", "equipment"),
        ("difficulty", "difficulty"),
    ]:
        assert body[facet], facet
        for value, count in counts(body, facet).items():
            listed = client.get("/v1/exercises", params={param: value, "limit": "1"}).json()
            assert listed["total"] == count, (facet, value)
        listed_counts = [entry["count"] for entry in body[facet]]
        assert listed_counts == sorted(listed_counts, reverse=True)


@pytest.mark.usefixtures("imported")
def test_facets_take_the_same_filters_as_the_list(client: TestClient) -> None:
    body = facets(client, source="imported", q="hamstring")

    assert body["total"] == 3
    assert counts(body, "muscle") == {"hamstrings": 3}
    assert counts(body, "region") == {"thigh": 3}
    assert counts(body, "equipment") == {"bodyweight": 3}
    assert counts(body, "difficulty") == {"beginner": 3}


def test_facets_of_a_search_that_finds_nothing_are_empty(client: TestClient) -> None:
    body = facets(client, q="zzzz-nothing")
    assert body == {"total": 0, "region": [], "muscle": [], "equipment": [], "difficulty": []}


def test_facets_do_not_shadow_an_exercise_slug_or_its_404(client: TestClient) -> None:
    assert client.get("/v1/exercises/glute-bridge").status_code == 200
    assert client.get("/v1/exercises/facets/extra").status_code == 404


@pytest.mark.skipif(not REAL_LIBRARY.exists(), reason="free-exercise-db is not on this machine")
def test_with_the_real_library_the_authored_stretch_leads_its_search(
    client: TestClient, database: Database
) -> None:
    with database.write_session() as session:
        import_free_exercise_db(session, REAL_LIBRARY, skip_invalid=True)

    assert slugs(client, q="hamstring stretch")[0] == "hamstring-strap-stretch"
