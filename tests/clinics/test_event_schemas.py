"""Every webhook body sent is the one the OpenAPI `webhooks` section documents.

One patient's life through a clinic queues each event type; each queued body
must validate against its documented model, which refuses unknown members, so
a field added to an event without its schema (or the reverse) fails here.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.clinics.event_schemas import EVENT_BODIES, PING
from app.clinics.models import EventType
from app.core.db import Database
from app.outbox.models import Channel, OutboxMessage
from tests.clinics.test_webhooks import PROGRAM, level1, subscribe
from tests.conftest import ClinicSetup, LinkedPatientFactory
from tests.progress.conftest import log, session_body

pytestmark = pytest.mark.usefixtures("seeded")


def webhook_bodies(database: Database) -> list[dict[str, object]]:
    with database.read_session() as session:
        return [
            message.payload
            for message in session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.channel == Channel.WEBHOOK)
                .order_by(col(OutboxMessage.id))
            )
        ]


def test_every_event_a_clinic_is_sent_matches_its_documented_schema(
    client: TestClient,
    clinic: ClinicSetup,
    database: Database,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    subscription = subscribe(client, clinic)
    patient = make_linked_patient(clinic)  # link.created
    assigned = client.post(  # program.assigned
        clinic.path(f"/patients/{patient.id}/enrollments"),
        headers=clinic.owner.headers,
        json={"program": PROGRAM},
    )
    assert assigned.status_code == 201, assigned.text
    body = session_body(PROGRAM, 1, level1(client))
    body["entries"][0]["pain"] = 9
    assert log(client, patient, body).status_code == 201  # session.logged, pain.reported
    overridden = client.put(  # stage.advanced
        clinic.path(f"/patients/{patient.id}/enrollments/{PROGRAM}/stage"),
        headers=clinic.owner.headers,
        json={"stage": 2, "reason": "Ready for more"},
    )
    assert overridden.status_code == 200, overridden.text
    pinged = client.post(
        clinic.path(f"/webhooks/{subscription['id']}/ping"), headers=clinic.owner.headers
    )
    assert pinged.status_code == 202, pinged.text
    withdrawn = client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert withdrawn.status_code == 204  # link.revoked
    leaving = make_linked_patient(clinic)
    erased = client.request(
        "DELETE", "/v1/me", headers=leaving.headers, json={"current_password": leaving.password}
    )
    assert erased.status_code == 204, erased.text  # patient.deleted

    bodies = webhook_bodies(database)
    for sent in bodies:
        EVENT_BODIES[str(sent["type"])].model_validate(sent)
    # The outcome events are checked where they are made (tests/outcomes: test_responses,
    # test_adherence_alert); every other event type is made here.
    made_elsewhere = {EventType.OUTCOME_RECORDED.value, EventType.ADHERENCE_LOW.value}
    assert {sent["type"] for sent in bodies} | made_elsewhere == {
        *(event.value for event in EventType),
        PING,
    }
