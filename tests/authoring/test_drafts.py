"""Drafts are seen by admins only: every public read path leaves them out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.catalog.schemas import ContentBundle
from tests.authoring.conftest import Editor
from tests.catalog.conftest import exercises_in_program
from tests.conftest import ClinicFactory, LinkedPatientFactory, Person, make_linked_patient
from tests.factories import condition, exercise, program

__all__ = ["make_linked_patient"]  # a fixture this module uses


@pytest.fixture
def drafts(editor: Editor, catalogue: ContentBundle) -> None:
    """A draft condition, a draft program for the published condition, and a draft
    exercise placed in stage 1 of the published program."""
    for plural, document in (
        ("conditions", condition("knee-pain", status="draft")),
        ("exercises", exercise("step-up", name="Step Up Bridge", status="draft")),
        ("programs", program("knee-plan", ["hip-pain"], [["bridge"]], status="draft")),
    ):
        assert editor.create(plural, document).status_code == 201
    document, _ = editor.read("/programs/hip-plan/stages/1")
    document["exercises"].append({"exercise": "step-up", "sets": 1, "reps": 5})
    _, etag = editor.read("/programs/hip-plan")
    assert editor.put("/programs/hip-plan/stages/1", document, etag).status_code == 200


def viewers(member: Person) -> list[dict[str, str]]:
    return [{}, member.headers]  # anonymous, signed in


def slugs(page: dict[str, Any]) -> list[str]:
    return [item["slug"] for item in page["items"]]


@pytest.mark.usefixtures("drafts")
def test_admins_see_drafts_and_published_alike(editor: Editor) -> None:
    assert "knee-pain" in slugs(editor.get("/conditions").json())
    assert "step-up" in slugs(editor.get("/exercises").json())
    assert editor.get("/programs/knee-plan").status_code == 200


@pytest.mark.usefixtures("drafts")
def test_a_draft_condition_is_not_listed_or_found(client: TestClient, member: Person) -> None:
    for headers in viewers(member):
        assert "knee-pain" not in slugs(client.get("/v1/conditions", headers=headers).json())
        listed = client.get("/v1/conditions", params={"q": "knee"}, headers=headers).json()
        assert listed["total"] == 0
        assert client.get("/v1/conditions/knee-pain", headers=headers).status_code == 404


@pytest.mark.usefixtures("drafts")
def test_a_draft_program_is_not_listed_found_or_shown_under_its_condition(
    client: TestClient, member: Person
) -> None:
    for headers in viewers(member):
        assert slugs(client.get("/v1/programs", headers=headers).json()) == ["hip-plan"]
        under = client.get("/v1/programs", params={"condition": "hip-pain"}, headers=headers)
        assert slugs(under.json()) == ["hip-plan"]
        assert client.get("/v1/programs/knee-plan", headers=headers).status_code == 404
        detail = client.get("/v1/conditions/hip-pain", headers=headers).json()
        assert [p["slug"] for p in detail["programs"]] == ["hip-plan"]


@pytest.mark.usefixtures("drafts")
def test_a_draft_exercise_is_not_listed_searched_or_found(
    client: TestClient, member: Person
) -> None:
    for headers in viewers(member):
        assert "step-up" not in slugs(client.get("/v1/exercises", headers=headers).json())
        found = client.get("/v1/exercises", params={"q": "step"}, headers=headers).json()
        assert found["total"] == 0
        assert client.get("/v1/exercises/step-up", headers=headers).status_code == 404


@pytest.mark.usefixtures("drafts")
def test_a_draft_exercise_placed_in_a_published_program_stays_out_of_its_stages(
    client: TestClient, member: Person
) -> None:
    for headers in viewers(member):
        shown = client.get("/v1/programs/hip-plan", headers=headers).json()
        assert [e["slug"] for e in exercises_in_program(shown)] == [
            "bridge",
            "clam",
            "plank",
            "lunge",
        ]


@pytest.mark.usefixtures("drafts")
def test_no_one_can_enroll_in_a_draft_program(client: TestClient, member: Person) -> None:
    response = client.post(
        "/v1/me/enrollments", headers=member.headers, json={"program": "knee-plan"}
    )
    assert response.status_code == 404


@pytest.mark.usefixtures("drafts")
def test_a_clinic_cannot_assign_a_draft_program(
    client: TestClient, make_clinic: ClinicFactory, make_linked_patient: LinkedPatientFactory
) -> None:
    clinic = make_clinic()
    patient = make_linked_patient(clinic)
    path = clinic.path(f"/patients/{patient.id}/enrollments")
    refused = client.post(path, headers=clinic.owner.headers, json={"program": "knee-plan"})
    assert refused.status_code == 404
    allowed = client.post(path, headers=clinic.owner.headers, json={"program": "hip-plan"})
    assert allowed.status_code == 201, allowed.text


def test_publishing_a_draft_makes_it_visible(
    client: TestClient, editor: Editor, drafts: None
) -> None:
    assert editor.edit("/programs/knee-plan", status="published").status_code == 200
    assert client.get("/v1/programs/knee-plan").status_code == 200
