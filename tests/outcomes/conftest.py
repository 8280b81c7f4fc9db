"""Outcome fixtures: the seeded catalogue and instruments, a clinic's linked, enrolled patient."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.authoring.report import ContentReport
from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.core.models import utcnow
from app.outcomes.instruments import apply_seed, read_seed
from tests.conftest import ClinicSetup, LinkedPatientFactory, Person
from tests.progress.conftest import enroll

PROGRAM = "whole-leg-rehabilitation"


@pytest.fixture
def instruments(database: Database, seeded: ContentReport) -> None:
    definitions = read_seed(PROJECT_ROOT / "seed" / "instruments")
    with database.write_session() as session:
        apply_seed(session, definitions, now=utcnow())


@pytest.fixture
def patient(
    client: TestClient,
    instruments: None,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
) -> Person:
    patient = make_linked_patient(clinic)
    enroll(client, patient, PROGRAM)
    return patient


def schedule(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    instrument: str,
    kind: str,
    every_days: int | None = None,
    program: str = PROGRAM,
) -> dict[str, Any]:
    body: dict[str, Any] = {"instrument": instrument, "program": program, "kind": kind}
    if every_days is not None:
        body["every_days"] = every_days
    response = client.post(
        clinic.path(f"/patients/{patient.id}/questionnaires"),
        headers=clinic.owner.headers,
        json=body,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def due(client: TestClient, person: Person) -> list[dict[str, Any]]:
    response = client.get("/v1/me/questionnaires/due", headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@dataclass
class Answer:
    schedule: int
    answers: dict[str, int]
    labels: dict[str, str] | None = None
    answered_at: datetime | None = None

    def body(self) -> dict[str, Any]:
        labels = self.labels or {}
        return {
            "schedule": self.schedule,
            "answered_at": (self.answered_at or datetime.now(UTC)).isoformat(),
            "answers": [
                {"item": key, "value": value, **({"label": labels[key]} if key in labels else {})}
                for key, value in self.answers.items()
            ],
        }


def answer(
    client: TestClient, person: Person, given: Answer, response_id: str | None = None
) -> httpx2.Response:
    key = response_id or str(uuid.uuid4())
    return client.put(f"/v1/me/responses/{key}", headers=person.headers, json=given.body())


def answered(client: TestClient, person: Person, given: Answer) -> dict[str, Any]:
    response = answer(client, person, given)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
