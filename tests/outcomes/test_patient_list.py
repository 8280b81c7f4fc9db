"""The clinic's patient list: adherence and the latest scores, sorted and filtered by them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ClinicSetup, LinkedPatientFactory, Person
from tests.outcomes.conftest import PROGRAM, Answer, answered, schedule
from tests.progress.conftest import enroll, session_body, stage_slugs


def log_days_ago(client: TestClient, person: Person, *days: float) -> None:
    exercises = stage_slugs(client, PROGRAM, 1)[:1]
    for ago in days:
        at = datetime.now(UTC) - timedelta(days=ago)
        body = session_body(PROGRAM, 1, exercises, performed_at=at)
        logged = client.put(f"/v1/me/sessions/{uuid.uuid4()}", headers=person.headers, json=body)
        assert logged.status_code == 201, logged.text


def patients(client: TestClient, clinic: ClinicSetup, **params: Any) -> list[dict[str, Any]]:
    response = client.get(clinic.path("/patients"), headers=clinic.owner.headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def pain(client: TestClient, person: Person, schedule_id: int, *scores: tuple[int, int]) -> None:
    for n, (worst, average) in enumerate(scores):
        at = datetime.now(UTC) - timedelta(days=len(scores) - n)
        given = Answer(schedule_id, {"worst": worst, "average": average}, answered_at=at)
        answered(client, person, given)


def test_adherence_and_latest_scores_sort_and_filter_the_list(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    other = make_linked_patient(clinic)
    enroll(client, other, PROGRAM)
    per_week = client.get("/v1/me/progress", headers=patient.headers).json()["programs"][0][
        "prescribed_sessions_per_week"
    ]
    assert per_week >= 2
    # `patient` did two sessions this week and one 10 days ago; `other` none.
    log_days_ago(client, patient, 1, 2, 10)
    pain(client, patient, schedule(client, clinic, patient, "pain-rating", "every_n_days", 7)["id"],
         (8, 6), (4, 4))  # fmt: skip
    pain(client, other, schedule(client, clinic, other, "pain-rating", "every_n_days", 7)["id"],
         (6, 6), (5, 5))  # fmt: skip

    listed = {p["id"]: p for p in patients(client, clinic)}
    mine = listed[patient.id]
    week = mine["programs"][0]["adherence"]["last_7_days"]
    # Enrolled a moment ago: the week's plan is the first day's share, at least one session.
    assert week["sessions"] == 2
    assert week["percent"] == min(100, round(100 * 2 / week["planned"]))
    assert mine["programs"][0]["adherence"]["last_28_days"]["sessions"] == 3
    assert mine["adherence_7_days"] == week["percent"]
    assert listed[other.id]["adherence_7_days"] == 0
    [latest] = mine["outcomes"]
    assert (latest["instrument"], latest["score"], latest["change"]) == ("pain-rating", 4.0, -3.0)
    assert (latest["improvement"], latest["passes_mcid"]) == (3.0, True)
    assert listed[other.id]["outcomes"][0]["passes_mcid"] is False

    def order(**params: Any) -> list[int]:
        return [p["id"] for p in patients(client, clinic, **params)]

    assert order(sort="adherence") == [other.id, patient.id]
    assert order(sort="-adherence") == [patient.id, other.id]
    assert order(adherence_below=1) == [other.id]
    assert order(instrument="pain-rating", sort="score") == [patient.id, other.id]
    assert order(instrument="pain-rating", sort="-improvement") == [patient.id, other.id]
    assert order(instrument="global-change") == []
    refused = client.get(
        clinic.path("/patients"), headers=clinic.owner.headers, params={"sort": "score"}
    )
    assert refused.status_code == 422
