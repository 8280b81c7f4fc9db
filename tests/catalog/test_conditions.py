"""GET /v1/conditions and /v1/conditions/{slug} on the authored content."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.authoring.report import ContentReport
from app.catalog.schemas import ConditionDetail, ConditionPage

pytestmark = pytest.mark.usefixtures("seeded")

CONSULT_WORDS = {"professional", "physiotherapist", "doctor", "clinician"}
HIP_CONDITIONS = {"tight-hip", "piriformis-syndrome"}
REQUIRED = {
    "tight-hip",
    "piriformis-syndrome",
    "running-gait",
    "whole-leg-rehabilitation",
    "the-starting-point",
    "core-dysfunction",
}


def test_lists_every_published_condition_in_name_order(client: TestClient) -> None:
    response = client.get("/v1/conditions")
    assert response.status_code == 200
    page = ConditionPage.model_validate(response.json())
    slugs = [item.slug for item in page.items]
    assert set(slugs) == REQUIRED
    assert page.total == len(REQUIRED)
    names = [item.name for item in page.items]
    assert names == sorted(names)


def test_region_filter_keeps_only_that_region(client: TestClient) -> None:
    body = client.get("/v1/conditions", params={"region": "hip"}).json()
    assert {item["slug"] for item in body["items"]} == HIP_CONDITIONS
    assert body["total"] == len(HIP_CONDITIONS)


def test_unknown_region_is_a_422_problem(client: TestClient) -> None:
    response = client.get("/v1/conditions", params={"region": "elbow-ish"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0] | {"detail": "", "type": ""} == {
        "parameter": "region",
        "in": "query",
        "detail": "",
        "type": "",
    }


def test_search_is_case_insensitive_on_name_and_summary(client: TestClient) -> None:
    by_name = client.get("/v1/conditions", params={"q": "PIRIFORMIS"}).json()
    assert [item["slug"] for item in by_name["items"]] == ["piriformis-syndrome"]
    summary_word = client.get("/v1/conditions/tight-hip").json()["summary"].split()[-1]
    by_summary = client.get("/v1/conditions", params={"q": summary_word.strip(".").upper()})
    assert "tight-hip" in {item["slug"] for item in by_summary.json()["items"]}


def test_search_without_match_is_an_empty_page(client: TestClient) -> None:
    body = client.get("/v1/conditions", params={"q": "zzz-no-such-thing"}).json()
    assert body == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_detail_carries_programs_related_conditions_and_disclaimer(client: TestClient) -> None:
    response = client.get("/v1/conditions/tight-hip")
    assert response.status_code == 200
    detail = ConditionDetail.model_validate(response.json())
    assert [p.slug for p in detail.programs] == ["tight-hip-stretches"]
    assert {c.slug for c in detail.related} == {"the-starting-point", "core-dysfunction"}
    assert CONSULT_WORDS & set(detail.disclaimer.lower().replace(",", " ").split())


@pytest.mark.parametrize("slug", sorted(REQUIRED))
def test_every_condition_has_a_program_and_a_disclaimer(client: TestClient, slug: str) -> None:
    detail = client.get(f"/v1/conditions/{slug}").json()
    assert detail["programs"], f"{slug} has no program"
    assert CONSULT_WORDS & set(detail["disclaimer"].lower().replace(",", " ").split())


def test_hip_conditions_point_to_the_starting_point_and_core_dysfunction(
    client: TestClient,
) -> None:
    for slug in ("tight-hip", "piriformis-syndrome", "running-gait", "whole-leg-rehabilitation"):
        related = {c["slug"] for c in client.get(f"/v1/conditions/{slug}").json()["related"]}
        assert {"the-starting-point", "core-dysfunction"} <= related, slug


def test_unknown_condition_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/conditions/tennis-elbow")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["instance"] == "/v1/conditions/tennis-elbow"
    assert "tennis-elbow" in problem["detail"]


def test_seed_report_counts_every_condition(seeded: ContentReport) -> None:
    assert len(seeded.created["condition"]) == len(REQUIRED)
