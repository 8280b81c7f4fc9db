"""GET /v1/programs and /v1/programs/{slug}: stages in order, rules, dosage, locked exercises."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.catalog.schemas import ProgramDetail, ProgramPage
from tests.catalog.conftest import PREMIUM_KEYS, exercises_in_program

pytestmark = pytest.mark.usefixtures("seeded")


def test_lists_programs_with_their_conditions_and_sizes(client: TestClient) -> None:
    page = ProgramPage.model_validate(client.get("/v1/programs").json())
    by_slug = {p.slug: p for p in page.items}
    assert page.total == len(by_slug) >= 6
    assert by_slug["running-gait-retraining"].conditions == ["running-gait"]
    assert by_slug["running-gait-retraining"].stage_count == 2
    assert by_slug["whole-leg-rehabilitation"].stage_count == 5
    assert by_slug["tight-hip-stretches"].stage_count == 1


def test_condition_filter(client: TestClient) -> None:
    body = client.get("/v1/programs", params={"condition": "piriformis-syndrome"}).json()
    assert [p["slug"] for p in body["items"]] == ["piriformis-syndrome-exercises"]


def test_condition_filter_with_unknown_condition_is_empty(client: TestClient) -> None:
    body = client.get("/v1/programs", params={"condition": "no-such-condition"}).json()
    assert body["items"] == []
    assert body["total"] == 0


def test_search_matches_program_names_case_insensitively(client: TestClient) -> None:
    body = client.get("/v1/programs", params={"q": "whole LEG"}).json()
    assert [p["slug"] for p in body["items"]] == ["whole-leg-rehabilitation"]


def test_running_gait_beginner_needs_two_weeks_and_every_exercise_easy(
    client: TestClient,
) -> None:
    program = ProgramDetail.model_validate(
        client.get("/v1/programs/running-gait-retraining").json()
    )
    beginner, advanced = program.stages
    assert (beginner.position, beginner.name) == (1, "Beginner")
    assert (advanced.position, advanced.name) == (2, "Advanced")
    assert beginner.rule.min_days >= 14
    assert beginner.rule.all_exercises_easy is True


def test_whole_leg_has_five_levels_each_needing_every_exercise_easy(client: TestClient) -> None:
    program = ProgramDetail.model_validate(
        client.get("/v1/programs/whole-leg-rehabilitation").json()
    )
    assert [stage.position for stage in program.stages] == [1, 2, 3, 4, 5]
    assert all(stage.rule.all_exercises_easy for stage in program.stages)
    assert all(stage.exercises for stage in program.stages)


def test_stage_exercises_carry_dosage_in_order(client: TestClient) -> None:
    program = client.get("/v1/programs/tight-hip-stretches").json()
    items = program["stages"][0]["exercises"]
    assert [item["position"] for item in items] == list(range(1, len(items) + 1))
    for item in items:
        dosage = item["dosage"]
        assert dosage["sets"] >= 1
        assert dosage["reps"] or dosage["hold_seconds"]
        assert dosage["sides"] in {"bilateral", "each_side"}
        assert 1 <= dosage["days_per_week"] <= 7


def test_anonymous_viewer_gets_every_program_exercise_locked_without_premium_keys(
    client: TestClient,
) -> None:
    for summary in client.get("/v1/programs", params={"limit": 100}).json()["items"]:
        program = client.get(f"/v1/programs/{summary['slug']}").json()
        exercises = list(exercises_in_program(program))
        assert exercises
        for exercise in exercises:
            assert exercise["access"] == "locked"
            assert exercise["lock"]["reason"] == "login_required"
            assert not PREMIUM_KEYS & exercise.keys(), exercise["slug"]


def test_unknown_program_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/programs/no-such-program")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
