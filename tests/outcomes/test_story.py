"""The issue's story, as a new user would try it: a clinician schedules the pain rating weekly
and the functional scale at enrollment; the patient sees both due, answers, logs a week of
sessions and sees `today` change; the clinic's list shows the scores, the change and
adherence, and its receiver gets `outcome.recorded`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.main import OUTBOX_WORKER, create_app
from app.outbox.models import Channel
from tests.clinics.receiver import Receiver
from tests.clinics.receiver import receiver as receiver
from tests.conftest import ClinicSetup, Person
from tests.outcomes.conftest import PROGRAM, Answer, answered, due, schedule
from tests.outcomes.test_today import near_noon
from tests.progress.conftest import session_body, stage_slugs


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    # Private targets allowed, so the clinic's receiver may listen on 127.0.0.1.
    private = settings.model_copy(update={"webhook_allow_private_targets": True})
    with TestClient(create_app(private, database=database)) as test_client:
        yield test_client


def test_a_clinic_and_its_patient_try_outcomes(
    client: TestClient, clinic: ClinicSetup, patient: Person, receiver: Receiver
) -> None:
    doc = clinic.owner.headers
    hook = client.post(
        clinic.path("/webhooks"),
        headers=doc,
        json={"url": receiver.url, "event_types": ["outcome.recorded"]},
    )
    assert hook.status_code == 201, hook.text
    pain = schedule(client, clinic, patient, "pain-rating", "every_n_days", every_days=7)
    scale = schedule(client, clinic, patient, "functional-scale", "at_enrollment")
    assert sorted(item["instrument"] for item in due(client, patient)) == [
        "functional-scale",
        "pain-rating",
    ]

    week_ago = datetime.now(UTC) - timedelta(days=7, minutes=5)
    answered(client, patient, Answer(pain["id"], {"worst": 7, "average": 5}, None, week_ago))
    answered(client, patient, Answer(scale["id"], {"activity_1": 3}, {"activity_1": "Stairs"}))
    # A week on, the pain rating is due again.
    assert [item["instrument"] for item in due(client, patient)] == ["pain-rating"]

    tz = near_noon()
    before = client.get("/v1/me/today", headers=patient.headers, params={"tz": tz}).json()
    assert before["streak_days"] == 0
    exercises = stage_slugs(client, PROGRAM, 1)
    now = datetime.now(UTC)
    for ago in range(6, -1, -1):
        at = now - timedelta(days=ago, minutes=1)
        body = session_body(PROGRAM, 1, exercises, performed_at=at)
        logged = client.put(f"/v1/me/sessions/{uuid.uuid4()}", headers=patient.headers, json=body)
        assert logged.status_code == 201, logged.text
    answered(client, patient, Answer(pain["id"], {"worst": 4, "average": 3}))

    after = client.get("/v1/me/today", headers=patient.headers).json()
    assert after["streak_days"] >= 6  # every day of the week (7 unless it just turned midnight)
    [program] = after["programs"]
    assert program["questionnaires_due"] == []
    assert (
        all(e["times_today"]["done"] >= 1 for e in program["exercises"])
        or not program["done_today"]
    )

    [listed] = client.get(clinic.path("/patients"), headers=doc).json()["items"]
    week = listed["programs"][0]["adherence"]["last_7_days"]
    assert week["sessions"] == 7
    assert listed["adherence_7_days"] == week["percent"] == 100
    scores = {o["instrument"]: o for o in listed["outcomes"]}
    assert scores["pain-rating"]["score"] == 3.5
    assert (scores["pain-rating"]["change"], scores["pain-rating"]["passes_mcid"]) == (-2.5, True)
    assert scores["functional-scale"]["score"] == 3.0

    assert OUTBOX_WORKER.of_app(client.app).only(Channel.WEBHOOK).run_once() == 3
    recorded = [request.json() for request in receiver.requests]
    assert [r["type"] for r in recorded] == ["outcome.recorded"] * 3
    last = next(r["data"] for r in recorded if r["data"]["score"] == 3.5)
    assert (last["instrument"], last["change"], last["passes_mcid"]) == ("pain-rating", -2.5, True)
