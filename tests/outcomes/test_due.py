"""What is due, for each kind of schedule a clinic can make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.conftest import ClinicSetup, Person
from tests.outcomes.conftest import PROGRAM, Answer, answered, due, schedule

PAIN = {"worst": 6, "average": 4}


def test_at_enrollment_is_due_until_answered(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    made = schedule(client, clinic, patient, "functional-scale", "at_enrollment")
    [item] = due(client, patient)
    assert (item["schedule"], item["instrument"], item["version"]) == (
        made["id"],
        "functional-scale",
        1,
    )
    assert item["program"] == PROGRAM
    assert len(item["definition"]["items"]) == 5
    answered(client, patient, Answer(made["id"], {"activity_1": 3}, {"activity_1": "Stairs"}))
    assert due(client, patient) == []


def test_every_n_days_is_due_again_once_the_last_answer_is_n_days_old(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    made = schedule(client, clinic, patient, "pain-rating", "every_n_days", every_days=7)
    assert [item["reason"] for item in due(client, patient)] == ["first answer"]
    six_days_ago = datetime.now(UTC) - timedelta(days=6)
    answered(client, patient, Answer(made["id"], PAIN, answered_at=six_days_ago))
    assert due(client, patient) == []
    # An answer given offline a week ago counts from when it was given.
    other = schedule(client, clinic, patient, "global-change", "every_n_days", every_days=7)
    week_ago = datetime.now(UTC) - timedelta(days=7, minutes=1)
    answered(client, patient, Answer(other["id"], {"change": 2}, answered_at=week_ago))
    assert [(i["instrument"], i["reason"]) for i in due(client, patient)] == [
        ("global-change", "every 7 days")
    ]


def test_at_stage_change_is_due_after_each_change_of_stage(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    made = schedule(client, clinic, patient, "pain-rating", "at_stage_change")
    assert due(client, patient) == []
    moved = client.put(
        clinic.path(f"/patients/{patient.id}/enrollments/{PROGRAM}/stage"),
        headers=clinic.owner.headers,
        json={"stage": 2, "reason": "Ready for more"},
    )
    assert moved.status_code == 200, moved.text
    assert [item["reason"] for item in due(client, patient)] == ["stage changed"]
    answered(client, patient, Answer(made["id"], PAIN))
    assert due(client, patient) == []


def test_a_schedule_is_checked_before_it_is_made(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    path = clinic.path(f"/patients/{patient.id}/questionnaires")
    headers = clinic.owner.headers

    def post(**body: object) -> int:
        base = {"instrument": "pain-rating", "program": PROGRAM, "kind": "every_n_days"}
        return client.post(path, headers=headers, json={**base, **body}).status_code

    assert post() == 422  # every_n_days without every_days
    assert post(kind="at_enrollment", every_days=7) == 422
    assert post(instrument="no-such-scale", every_days=7) == 404
    assert post(program="tight-hip-stretches", every_days=7) == 404  # not followed
    assert post(every_days=7) == 201
    assert post(every_days=14) == 409  # the same instrument, kind and program again
    listed = client.get(path, headers=headers).json()
    assert [(s["instrument"], s["kind"], s["every_days"]) for s in listed] == [
        ("pain-rating", "every_n_days", 7)
    ]


def test_nobody_else_sees_a_persons_due_list(
    client: TestClient, clinic: ClinicSetup, patient: Person, member: Person
) -> None:
    schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    assert due(client, member) == []
    assert client.get("/v1/me/questionnaires/due").status_code == 401
