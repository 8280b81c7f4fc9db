"""Printed programs: what a handout shows is what the lock lets the person see, on paper too."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import update
from sqlmodel import col

from app.access.policy import Role
from app.authoring.placeholders import write_placeholder_media
from app.authoring.report import ContentReport
from app.catalog.schemas import ContentBundle
from app.core.config import Settings
from app.core.db import Database
from app.core.models import utcnow
from app.identity.models import User
from app.progress.models import Enrollment
from tests.conftest import (
    ClinicFactory,
    LinkedPatientFactory,
    Person,
    PersonFactory,
    api_client_token,
)
from tests.progress.conftest import enroll

PROGRAM = "whole-leg-rehabilitation"
PREMIUM = ("instructions", "cues", "mistakes", "precautions")


def pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def program(client: TestClient, person: Person) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/programs/{PROGRAM}", headers=person.headers).json()
    return body


@pytest.fixture
def media(settings: Settings, seed_bundle: ContentBundle, seeded: ContentReport) -> Path:
    write_placeholder_media(seed_bundle, settings.media_dir)
    return settings.media_dir


def handout(client: TestClient, person: Person, slug: str = PROGRAM) -> Any:
    return client.get(f"/v1/me/enrollments/{slug}/handout.pdf", headers=person.headers)


def test_a_member_prints_their_program_with_locked_stages_as_teasers(
    client: TestClient, media: Path, member: Person
) -> None:
    enroll(client, member, PROGRAM)
    response = handout(client, member)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = flat(pdf_text(response.content))
    detail = program(client, member)
    stage_one, stage_two = detail["stages"][0], detail["stages"][1]
    assert "Whole Leg Rehabilitation" in text
    assert "person" in text  # the member's display name
    assert "Stage 1 of" in text
    for item in stage_one["exercises"]:
        exercise = item["exercise"]
        assert exercise["name"] in text
        assert flat(exercise["instructions"][0]) in text
        assert flat(exercise["precautions"][0]) in text if exercise["precautions"] else True
    assert stage_two["exercises"][0]["exercise"]["access"] == "locked"
    assert stage_two["exercises"][0]["exercise"]["name"] in text  # the teaser prints
    assert "Locked" in text


@pytest.fixture
def locked_premium(client: TestClient, make_person: PersonFactory) -> list[dict[str, Any]]:
    """Stage 2 onwards as an admin reads it: every premium line that must not print while
    those stages are locked (lines also found in stage 1's unlocked text are left out)."""
    detail = program(client, make_person(Role.ADMIN))
    open_text = " ".join(
        flat(line)
        for item in detail["stages"][0]["exercises"]
        for key in PREMIUM
        for line in item["exercise"][key]
    )
    found = []
    for stage in detail["stages"][1:]:
        for item in stage["exercises"]:
            exercise = dict(item["exercise"])
            for key in PREMIUM:
                exercise[key] = [line for line in exercise[key] if flat(line) not in open_text]
            found.append(exercise)
    return found


def test_no_premium_line_of_a_locked_stage_prints(
    client: TestClient, media: Path, member: Person, locked_premium: list[dict[str, Any]]
) -> None:
    enroll(client, member, PROGRAM)
    text = flat(pdf_text(handout(client, member).content))
    stage_one = {i["exercise"]["slug"] for i in program(client, member)["stages"][0]["exercises"]}
    checked = 0
    for exercise in locked_premium:
        if exercise["slug"] in stage_one:
            continue  # the same exercise is unlocked at stage 1
        assert exercise["name"] in text
        for premium in PREMIUM:
            for line in exercise[premium]:
                checked += 1
                assert flat(line) not in text, f"{exercise['slug']} {premium}"
    assert checked > 20


def test_reaching_the_next_stage_unlocks_it_on_paper(
    client: TestClient, media: Path, member: Person, database: Database
) -> None:
    enroll(client, member, PROGRAM)
    with database.write_session() as session:  # as advancing leaves it
        session.execute(
            update(Enrollment)
            .where(col(Enrollment.user_id) == member.id)
            .values(current_stage=2, stage_started_at=utcnow())
        )
    text = flat(pdf_text(handout(client, member).content))
    stage_two = program(client, member)["stages"][1]["exercises"]
    assert all(item["exercise"]["access"] == "unlocked" for item in stage_two)
    first = stage_two[0]["exercise"]
    assert flat(first["instructions"][0]) in text
    assert "Stage 2 of" in text


def test_a_program_not_followed_is_not_found(
    client: TestClient, media: Path, member: Person
) -> None:
    response = handout(client, member)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert handout(client, member, "no-such-program").status_code == 404


def test_clinic_staff_print_a_linked_patients_program_locked_as_the_patient_sees_it(
    client: TestClient,
    media: Path,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
    locked_premium: list[dict[str, Any]],
) -> None:
    clinic = make_clinic("Riverside Physio")
    patient = make_linked_patient(clinic)
    enroll(client, patient, PROGRAM)
    path = clinic.path(f"/patients/{patient.id}/enrollments/{PROGRAM}/handout.pdf")
    for headers in (clinic.owner.headers, api_client_token(client, clinic, ["patients:read"])):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        text = flat(pdf_text(response.content))
        assert "Riverside Physio" in text
        assert "Whole Leg Rehabilitation" in text
        stage_one = {
            i["exercise"]["slug"] for i in program(client, patient)["stages"][0]["exercises"]
        }
        for exercise in locked_premium:
            if exercise["slug"] not in stage_one:
                assert all(flat(line) not in text for line in exercise["instructions"])


def test_another_clinic_and_a_withdrawn_patient_get_no_handout(
    client: TestClient,
    media: Path,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    clinic, other = make_clinic("Riverside Physio"), make_clinic("Elsewhere")
    patient = make_linked_patient(clinic)
    enroll(client, patient, PROGRAM)
    path = f"/patients/{patient.id}/enrollments/{PROGRAM}/handout.pdf"
    assert client.get(other.path(path), headers=other.owner.headers).status_code == 404
    assert (
        client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers).status_code
        == 204
    )
    assert client.get(clinic.path(path), headers=clinic.owner.headers).status_code == 404


def test_missing_images_and_unusual_names_still_print(
    client: TestClient,
    seeded: ContentReport,
    settings: Settings,
    member: Person,
    database: Database,
) -> None:
    for image in settings.media_dir.glob("thumbnails/*"):
        image.unlink()
    with database.write_session() as session:
        user = session.get(User, member.id)
        assert user is not None
        user.display_name = "Zoë Łukasz 李"
    enroll(client, member, PROGRAM)
    response = handout(client, member)
    assert response.status_code == 200, response.text
    assert "Zoë Łukasz" in pdf_text(response.content)


def test_a_handout_renders_quickly(client: TestClient, media: Path, member: Person) -> None:
    enroll(client, member, PROGRAM)
    handout(client, member)  # warm: the font is parsed once per process
    started = time.perf_counter()
    for _ in range(3):
        assert handout(client, member).status_code == 200
    assert (time.perf_counter() - started) / 3 < 2.0
