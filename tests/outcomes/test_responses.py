"""Answering: idempotent by the app's UUID, partial answers refused by name, scored by the
server with the version answered, and the change from the first response."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.clinics.event_schemas import EVENT_BODIES
from app.core.db import Database
from app.outbox.models import OutboxMessage
from app.outcomes import responses
from app.outcomes.models import OutcomeResponse
from app.outcomes.schemas import ResponseIn
from tests.conftest import ClinicSetup, Person
from tests.outcomes.conftest import Answer, answer, answered, schedule
from tests.outcomes.synthetic import synthetic


def stored(database: Database) -> int:
    with database.read_session() as session:
        return session.exec(select(func.count()).select_from(OutcomeResponse)).one()


def test_the_same_response_twice_is_the_same_answer_and_one_row(
    client: TestClient, clinic: ClinicSetup, patient: Person, database: Database
) -> None:
    made = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    given = Answer(made["id"], {"worst": 7, "average": 5}, answered_at=datetime.now(UTC))
    key = str(uuid.uuid4())
    first = answer(client, patient, given, key)
    assert first.status_code == 201
    assert first.headers["Location"] == f"/v1/me/responses/{key}"
    again = answer(client, patient, given, key)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert stored(database) == 1

    changed = Answer(made["id"], {"worst": 3, "average": 2}, answered_at=given.answered_at)
    assert answer(client, patient, changed, key).status_code == 409
    assert stored(database) == 1


def test_another_persons_response_id_is_not_there(
    client: TestClient, clinic: ClinicSetup, patient: Person, member: Person
) -> None:
    made = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    key = str(uuid.uuid4())
    assert answer(client, patient, Answer(made["id"], {"worst": 7, "average": 5}), key).is_success
    theirs = answer(client, member, Answer(made["id"], {"worst": 7, "average": 5}), key)
    assert theirs.status_code == 404
    # Nor can anyone answer a questionnaire scheduled for someone else.
    assert answer(client, member, Answer(made["id"], {"worst": 1, "average": 1})).status_code == 404


def test_partial_answers_are_refused_naming_the_items(
    client: TestClient, clinic: ClinicSetup, patient: Person, database: Database
) -> None:
    pain = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    refused = answer(client, patient, Answer(pain["id"], {"worst": 7}))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert (error["pointer"], error["detail"]) == ("/answers", "Unanswered: average.")

    wrong = answer(client, patient, Answer(pain["id"], {"worst": 11, "average": 5, "mood": 1}))
    pointers = {e["pointer"] for e in wrong.json()["errors"]}
    assert pointers == {"/answers/0/value", "/answers/2/item"}

    scale = schedule(client, clinic, patient, "functional-scale", "at_enrollment")
    unnamed = answer(client, patient, Answer(scale["id"], {"activity_1": 4}))
    assert unnamed.json()["errors"][0]["pointer"] == "/answers/0/label"
    assert stored(database) == 0


def test_scores_come_with_the_change_from_the_first_and_the_mcid(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    made = schedule(client, clinic, patient, "pain-rating", "every_n_days", every_days=7)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    first = answered(
        client, patient, Answer(made["id"], {"worst": 8, "average": 6}, None, week_ago)
    )
    assert first["scores"]["total"] == {"value": 7.0, "answered": 2, "of": 2}
    assert first["scores"]["worst"]["value"] == 8.0
    assert first["change"] is None  # the baseline itself

    second = answered(client, patient, Answer(made["id"], {"worst": 5, "average": 5}))
    assert second["scores"]["total"]["value"] == 5.0
    assert second["change"] == {
        "baseline": 7.0,
        "change": -2.0,
        "improvement": 2.0,
        "passes_mcid": True,
    }
    listed = client.get("/v1/me/responses", headers=patient.headers).json()
    assert [r["id"] for r in listed["items"]] == [second["id"], first["id"]]
    assert listed["items"][0]["change"]["passes_mcid"] is True


def test_the_functional_scale_scores_the_mean_of_the_named_activities(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    made = schedule(client, clinic, patient, "functional-scale", "at_enrollment")
    scored = answered(
        client,
        patient,
        Answer(
            made["id"],
            {"activity_1": 3, "activity_2": 6, "activity_3": 4},
            {"activity_1": "Stairs", "activity_2": "Kneeling", "activity_3": "Running"},
        ),
    )
    assert scored["scores"]["total"] == {"value": 4.33, "answered": 3, "of": 5}
    assert scored["answers"][1] == {"item": "activity_2", "value": 6, "label": "Kneeling"}


def test_old_responses_keep_the_version_they_answered_and_its_scoring(
    client: TestClient, clinic: ClinicSetup, patient: Person, admin: Person
) -> None:
    base = "/v1/admin/instruments"
    body = {"slug": "synthetic", **synthetic("sum", scale_to_100=False)}
    assert client.post(base, headers=admin.headers, json=body).status_code == 201
    client.post(f"{base}/synthetic/versions/1/publish", headers=admin.headers)
    made = schedule(client, clinic, patient, "synthetic", "every_n_days", every_days=1)
    answers = {"a": 3, "b": 1, "c": 2, "d": 3}
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    old = answered(client, patient, Answer(made["id"], answers, answered_at=two_days_ago))
    assert (old["version"], old["scores"]["total"]["value"]) == (1, 11.0)

    v2 = synthetic("mean", scale_to_100=False)
    assert client.post(f"{base}/synthetic/versions", headers=admin.headers, json=v2).is_success
    client.post(f"{base}/synthetic/versions/2/publish", headers=admin.headers)
    new = answered(client, patient, Answer(made["id"], answers))
    assert (new["version"], new["scores"]["total"]["value"]) == (2, 2.75)

    listed = client.get("/v1/me/responses", headers=patient.headers).json()["items"]
    assert [(r["version"], r["scores"]["total"]["value"]) for r in listed] == [
        (2, 2.75),
        (1, 11.0),
    ]


def test_every_scored_response_queues_outcome_recorded(
    client: TestClient, clinic: ClinicSetup, patient: Person, database: Database
) -> None:
    hook = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": "https://93.184.216.34/hook", "event_types": ["outcome.recorded"]},
    )
    assert hook.status_code == 201, hook.text
    made = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    key = str(uuid.uuid4())
    given = Answer(made["id"], {"worst": 4, "average": 2}, answered_at=datetime.now(UTC))
    answer(client, patient, given, key)
    answer(client, patient, given, key)  # a retry is not news
    with database.read_session() as session:
        events = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.event_type) == "outcome.recorded")
        ).all()
    [event] = events
    EVENT_BODIES["outcome.recorded"].model_validate(event.payload)  # as the document says
    data = event.payload["data"]
    assert data["patient_id"] == patient.id
    assert (data["response_id"], data["instrument"], data["score"]) == (key, "pain-rating", 3.0)


def test_a_response_stored_by_another_device_meanwhile_is_the_same_answer(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    given = Answer(made["id"], {"worst": 4, "average": 2}, answered_at=datetime.now(UTC))
    key = str(uuid.uuid4())
    first = answer(client, patient, given, key)
    assert first.status_code == 201
    # The second request looks before the first commits (it sees no row), then inserts.
    real_get = Session.get
    hidden = {"once": True}

    def get(self: Session, entity: Any, ident: Any, **kwargs: Any) -> Any:
        if entity is OutcomeResponse and hidden.pop("once", False):
            return None
        return real_get(self, entity, ident, **kwargs)

    monkeypatch.setattr(Session, "get", get)
    with database.write_session() as session:
        scored, created = responses.put_response(
            session,
            user_id=patient.id,
            response_id=key,
            body=ResponseIn.model_validate(given.body(), strict=False),
            now=datetime.now(UTC),
        )
    assert created is False
    assert scored.response.id == key
    assert stored(database) == 1
