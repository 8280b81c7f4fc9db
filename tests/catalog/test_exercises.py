"""GET /v1/exercises and /v1/exercises/{slug}: filters, search, paging, the anonymous lock."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.authoring.report import ContentReport
from app.catalog.schemas import ExerciseOut, ExercisePage
from tests.catalog.conftest import PREMIUM_KEYS

pytestmark = pytest.mark.usefixtures("seeded")


def all_exercises(client: TestClient, **params: str) -> list[dict[str, object]]:
    body = client.get("/v1/exercises", params={"limit": "100", **params}).json()
    assert body["total"] == len(body["items"])
    items: list[dict[str, object]] = body["items"]
    return items


def test_lists_every_authored_exercise(client: TestClient, seeded: ContentReport) -> None:
    page = ExercisePage.model_validate(client.get("/v1/exercises", params={"limit": 100}).json())
    assert page.total == len(seeded.created["exercise"]) >= 40
    names = [item.name for item in page.items]
    assert names == sorted(names)


def test_anonymous_list_is_locked_with_login_required_and_no_premium_key(
    client: TestClient,
) -> None:
    for item in all_exercises(client):
        assert item["access"] == "locked"
        assert not PREMIUM_KEYS & item.keys()
        lock = item["lock"]
        assert isinstance(lock, dict)
        assert lock["reason"] == "login_required"
        assert lock["message"]
        assert lock["unlock_hint"]


def test_anonymous_detail_is_locked_teaser(client: TestClient) -> None:
    response = client.get("/v1/exercises/glute-bridge")
    assert response.status_code == 200
    body = response.json()
    exercise = TypeAdapter(ExerciseOut).validate_python(body)
    assert exercise.access == "locked"
    assert not PREMIUM_KEYS & body.keys()
    assert body["name"] == "Glute Bridge"
    assert body["thumbnail_url"].endswith("thumbnails/glute-bridge.jpg")


@pytest.mark.parametrize(
    ("param", "value", "field"),
    [
        ("region", "ankle_foot", "body_regions"),
        ("muscle", "glutes", "muscles"),
        ("equipment", "resistance band", "equipment"),
    ],
)
def test_list_filters_keep_only_matching_exercises(
    client: TestClient, param: str, value: str, field: str
) -> None:
    everything = all_exercises(client)
    matching = all_exercises(client, **{param: value})
    assert 0 < len(matching) < len(everything)
    assert all(value in item[field] for item in matching)  # type: ignore[operator]
    expected = {item["slug"] for item in everything if value in item[field]}  # type: ignore[operator]
    assert {item["slug"] for item in matching} == expected


def test_muscle_and_equipment_filters_ignore_case(client: TestClient) -> None:
    assert all_exercises(client, muscle="GLUTES") == all_exercises(client, muscle="glutes")


def test_difficulty_filter(client: TestClient) -> None:
    advanced = all_exercises(client, difficulty="advanced")
    assert advanced
    assert {item["difficulty"] for item in advanced} == {"advanced"}


def test_filters_combine(client: TestClient) -> None:
    combined = all_exercises(client, region="hip", difficulty="beginner")
    assert combined
    assert all("hip" in item["body_regions"] for item in combined)  # type: ignore[operator]
    assert all(item["difficulty"] == "beginner" for item in combined)


def test_search_matches_every_word_in_name_or_summary_ignoring_case(client: TestClient) -> None:
    found = all_exercises(client, q="GLUTE bridge")
    slugs = {item["slug"] for item in found}
    assert {"glute-bridge", "single-leg-glute-bridge"} <= slugs
    for item in found:
        text = f"{item['name']} {item['summary']}".lower()
        assert "glute" in text
        assert "bridge" in text


def test_stretch_search_finds_stretches(client: TestClient) -> None:
    found = all_exercises(client, q="stretch")
    assert len(found) >= 5


def test_pages_cover_the_list_without_overlap(client: TestClient) -> None:
    everything = [item["slug"] for item in all_exercises(client)]
    first = client.get("/v1/exercises", params={"limit": 10, "offset": 0}).json()
    second = client.get("/v1/exercises", params={"limit": 10, "offset": 10}).json()
    assert [i["slug"] for i in first["items"]] == everything[:10]
    assert [i["slug"] for i in second["items"]] == everything[10:20]
    assert first["total"] == second["total"] == len(everything)
    assert (second["limit"], second["offset"]) == (10, 10)


def test_offset_past_the_end_is_an_empty_page(client: TestClient) -> None:
    body = client.get("/v1/exercises", params={"offset": 10_000}).json()
    assert body["items"] == []
    assert body["total"] > 0


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"difficulty": "impossible"}, "difficulty"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_bad_list_parameters_are_422_problems(
    client: TestClient, params: dict[str, str], parameter: str
) -> None:
    response = client.get("/v1/exercises", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert [(error["in"], error["parameter"]) for error in problem["errors"]] == [
        ("query", parameter)
    ]
    assert all("pointer" not in error for error in problem["errors"])


def test_unknown_exercise_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/exercises/no-such-exercise")
    assert response.status_code == 404
    assert response.json()["title"] == "Not Found"
