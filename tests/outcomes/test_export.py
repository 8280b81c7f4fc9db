"""A person's export holds their questionnaires, responses and reminders."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.accounts.schemas import AccountExport
from tests.conftest import ClinicSetup, Person
from tests.outcomes.conftest import PROGRAM, Answer, answered, schedule


def test_the_export_holds_questionnaires_and_scored_responses(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    made = schedule(client, clinic, patient, "functional-scale", "at_enrollment")
    given = answered(
        client, patient, Answer(made["id"], {"activity_1": 4}, {"activity_1": "Squatting"})
    )
    client.post(
        "/v1/me/reminders",
        headers=patient.headers,
        json={"local_time": "18:30", "weekdays": [1, 4], "timezone": "Europe/Berlin"},
    )
    export = AccountExport.model_validate(
        client.get("/v1/me/export", headers=patient.headers).json()
    )
    [questionnaire] = export.questionnaires
    assert (questionnaire.instrument, questionnaire.program, questionnaire.clinic_id) == (
        "functional-scale",
        PROGRAM,
        clinic.id,
    )
    [response] = export.responses
    assert (response.id, response.version) == (given["id"], 1)
    assert response.answers == [{"item": "activity_1", "value": 4, "label": "Squatting"}]
    assert response.scores["total"].value == 4.0
    [reminder] = export.reminders
    assert (reminder.local_time, reminder.weekdays, reminder.timezone) == (
        "18:30",
        [1, 4],
        "Europe/Berlin",
    )
