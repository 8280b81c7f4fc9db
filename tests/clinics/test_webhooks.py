"""Webhook subscriptions (secret shown once, SSRF refusals) and the outbox: which events are
queued, for which clinic, and when nothing must be."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from app.catalog.deps import CATALOG
from app.clinics.events import emit
from app.clinics.models import EventType, WebhookSubscription
from app.clinics.webhooks import SECRET_BOX
from app.core.db import Database
from app.core.group_commit import StagedWork, run_through
from app.core.models import utcnow
from app.outbox.models import Channel, OutboxMessage
from app.progress.models import SessionLog
from app.progress.schemas import SessionIn
from app.progress.sessions import write
from tests.conftest import (
    ClinicFactory,
    ClinicSetup,
    LinkedPatientFactory,
    Person,
    api_client_token,
    link,
)
from tests.progress.conftest import backdate, enroll, log, session_body, stage_slugs
from tests.together import submit_together

pytestmark = pytest.mark.usefixtures("seeded")

PROGRAM = "whole-leg-rehabilitation"
PUBLIC_URL = "https://93.184.216.34/hook"
ALL_EVENTS = [event.value for event in EventType]


class CrashError(Exception):
    """Raised on purpose after an event was emitted, to roll the transaction back."""


# ---------------------------------------------------------------------------
# Helpers


def subscribe(
    client: TestClient,
    clinic: ClinicSetup,
    events: list[str] | None = None,
    url: str = PUBLIC_URL,
) -> dict[str, Any]:
    response = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": url, "event_types": ALL_EVENTS if events is None else events},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def queued(database: Database, subscription_id: int) -> list[OutboxMessage]:
    with database.read_session() as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.subscription_id == subscription_id)
                .order_by(col(OutboxMessage.id))
            )
        )


def types_of(database: Database, subscription_id: int) -> list[str]:
    return [delivery.event_type for delivery in queued(database, subscription_id)]


def all_deliveries(database: Database) -> int:
    """Webhook deliveries queued, for any clinic (mail to staff is not one)."""
    with database.read_session() as session:
        return session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.channel == Channel.WEBHOOK)
        ).one()


def subscription_count(database: Database) -> int:
    with database.read_session() as session:
        return session.exec(select(func.count()).select_from(WebhookSubscription)).one()


def level1(client: TestClient) -> list[str]:
    return stage_slugs(client, PROGRAM, 1)


def log_ok(client: TestClient, person: Person, **kwargs: Any) -> dict[str, Any]:
    """Log one stage-1 session of every stage-1 exercise; assert it was stored."""
    response = log(client, person, session_body(PROGRAM, 1, level1(client), **kwargs))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def enrolled_patient(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> Person:
    """A patient linked to `clinic` and following the whole-leg program."""
    patient = make_linked_patient(clinic)
    enroll(client, patient, PROGRAM)
    return patient


# ---------------------------------------------------------------------------
# Subscriptions


def test_creating_a_subscription_shows_the_secret_once_and_stores_it_encrypted(
    client: TestClient, clinic: ClinicSetup, database: Database
) -> None:
    response = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": PUBLIC_URL, "event_types": ["session.logged", "pain.reported"]},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["secret"]
    assert isinstance(secret, str)
    assert len(secret) >= 32
    assert created["url"] == PUBLIC_URL
    assert created["event_types"] == ["session.logged", "pain.reported"]
    assert created["active"] is True

    listed = client.get(clinic.path("/webhooks"), headers=clinic.owner.headers)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [created["id"]]
    assert "secret" not in listed.json()[0]
    assert secret not in listed.text

    with database.read_session() as session:
        stored = session.get(WebhookSubscription, created["id"])
        assert stored is not None
        assert secret not in stored.secret_encrypted
        # Encrypted, not hashed: the worker must be able to sign with it.
        box = SECRET_BOX.of_app(client.app)
        assert box.open(stored.secret_encrypted) == secret


def test_each_subscription_gets_its_own_secret(client: TestClient, clinic: ClinicSetup) -> None:
    first = subscribe(client, clinic)
    second = subscribe(client, clinic)
    assert first["secret"] != second["secret"]


def test_listing_shows_the_clinics_own_subscriptions_in_order(
    client: TestClient, make_clinic: ClinicFactory
) -> None:
    clinic_a, clinic_b = make_clinic("A"), make_clinic("B")
    first = subscribe(client, clinic_a, ["session.logged"])
    second = subscribe(client, clinic_a, ["link.created", "link.revoked"])
    other = subscribe(client, clinic_b, ["pain.reported"])

    listed = client.get(clinic_a.path("/webhooks"), headers=clinic_a.owner.headers).json()
    assert [(item["id"], item["event_types"]) for item in listed] == [
        (first["id"], ["session.logged"]),
        (second["id"], ["link.created", "link.revoked"]),
    ]
    listed_b = client.get(clinic_b.path("/webhooks"), headers=clinic_b.owner.headers).json()
    assert [item["id"] for item in listed_b] == [other["id"]]


def test_deleting_a_subscription_removes_it_and_its_deliveries(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    created = subscribe(client, clinic, ["session.logged"])
    log_ok(client, enrolled_patient)
    assert types_of(database, created["id"]) == ["session.logged"]

    deleted = client.delete(clinic.path(f"/webhooks/{created['id']}"), headers=clinic.owner.headers)
    assert deleted.status_code == 204
    assert client.get(clinic.path("/webhooks"), headers=clinic.owner.headers).json() == []
    assert subscription_count(database) == 0
    assert all_deliveries(database) == 0
    again = client.delete(clinic.path(f"/webhooks/{created['id']}"), headers=clinic.owner.headers)
    assert again.status_code == 404

    # Nothing is queued for it any more.
    log_ok(client, enrolled_patient)
    assert all_deliveries(database) == 0


def test_another_clinic_cannot_delete_a_subscription(
    client: TestClient, make_clinic: ClinicFactory, database: Database
) -> None:
    clinic_a, clinic_b = make_clinic("A"), make_clinic("B")
    created = subscribe(client, clinic_a)
    response = client.delete(
        clinic_b.path(f"/webhooks/{created['id']}"), headers=clinic_b.owner.headers
    )
    assert response.status_code == 404
    assert subscription_count(database) == 1


@pytest.mark.parametrize(
    "event_types",
    [["session.created"], ["session.logged", "nope"], [], ["session.logged", "session.logged"]],
    ids=["unknown", "one-unknown", "empty", "duplicate"],
)
def test_bad_event_types_are_422(
    client: TestClient, clinic: ClinicSetup, database: Database, event_types: list[str]
) -> None:
    response = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": PUBLIC_URL, "event_types": event_types},
    )
    assert response.status_code == 422, response.text
    pointers = [error["pointer"] for error in response.json()["errors"]]
    assert any(pointer.startswith("/event_types") for pointer in pointers), pointers
    assert subscription_count(database) == 0


UNSAFE_URLS = [
    "http://93.184.216.34/hook",
    "https://93.184.216.34:abc/hook",  # a port that does not parse
    "https://93.184.216.34:99999/",  # a port out of range
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://10.0.0.5/hook",
    "https://192.168.1.1/hook",
    "https://172.16.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
    "https://[fd00::1]/hook",
    "https://0.0.0.0/hook",
    "https://user:pass@93.184.216.34/hook",
    "https://no-such-host.invalid/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://100.64.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "https://LOCALHOST./hook",
    "http://[0]",  # brackets around something that is not an IPv6 address
    "https://[0]/hook",
    "https://[::1/hook",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_unsafe_targets_are_refused(
    client: TestClient, clinic: ClinicSetup, database: Database, url: str
) -> None:
    response = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": url, "event_types": ["session.logged"]},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["pointer"] for error in response.json()["errors"]] == ["/url"]
    assert "secret" not in response.json()
    assert subscription_count(database) == 0


def test_a_public_literal_address_is_accepted(
    client: TestClient, clinic: ClinicSetup, database: Database
) -> None:
    created = subscribe(client, clinic, url=PUBLIC_URL)
    assert created["url"] == PUBLIC_URL
    assert subscription_count(database) == 1


# ---------------------------------------------------------------------------
# Which patients' events reach which clinic


def test_an_unlinked_patients_session_queues_nothing(
    client: TestClient, clinic: ClinicSetup, database: Database, member: Person
) -> None:
    subscribe(client, clinic)
    enroll(client, member, PROGRAM)
    log_ok(client, member, pain=8)
    assert all_deliveries(database) == 0


def test_a_patient_linked_to_one_clinic_never_reaches_another(
    client: TestClient,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
    database: Database,
) -> None:
    clinic_a, clinic_b = make_clinic("A"), make_clinic("B")
    sub_a = subscribe(client, clinic_a)
    sub_b = subscribe(client, clinic_b)
    patient = make_linked_patient(clinic_a)
    enroll(client, patient, PROGRAM)
    logged = log_ok(client, patient, pain=7)
    override = client.put(
        clinic_a.path(f"/patients/{patient.id}/enrollments/{PROGRAM}/stage"),
        headers=clinic_a.owner.headers,
        json={"stage": 2, "reason": "Moving on"},
    )
    assert override.status_code == 200, override.text

    assert types_of(database, sub_a["id"]) == [
        "link.created",
        "session.logged",
        "pain.reported",
        "stage.advanced",
    ]
    assert types_of(database, sub_b["id"]) == []
    for delivery in queued(database, sub_a["id"]):
        assert delivery.payload["clinic_id"] == clinic_a.id
        assert delivery.payload["data"]["patient_id"] == patient.id
    session_event = queued(database, sub_a["id"])[1]
    assert session_event.payload["data"]["session_id"] == logged["id"]


def test_a_patient_linked_to_two_clinics_reaches_both_with_one_event_id(
    client: TestClient,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
    database: Database,
) -> None:
    clinic_a, clinic_b = make_clinic("A"), make_clinic("B")
    sub_a = subscribe(client, clinic_a, ["session.logged"])
    sub_b = subscribe(client, clinic_b, ["session.logged"])
    patient = make_linked_patient(clinic_a)
    link(client, clinic_b, patient)
    enroll(client, patient, PROGRAM)
    log_ok(client, patient)

    [for_a] = queued(database, sub_a["id"])
    [for_b] = queued(database, sub_b["id"])
    assert for_a.event_id == for_b.event_id
    assert (for_a.payload["clinic_id"], for_b.payload["clinic_id"]) == (clinic_a.id, clinic_b.id)


def test_after_withdrawal_only_link_revoked_is_queued(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic)
    log_ok(client, enrolled_patient)
    assert types_of(database, sub["id"]) == ["session.logged"]

    withdrawn = client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=enrolled_patient.headers)
    assert withdrawn.status_code == 204
    assert types_of(database, sub["id"]) == ["session.logged", "link.revoked"]
    revoked = queued(database, sub["id"])[-1]
    assert revoked.payload["data"] == {"patient_id": enrolled_patient.id}
    assert revoked.payload["clinic_id"] == clinic.id

    log_ok(client, enrolled_patient, pain=9)
    assert types_of(database, sub["id"]) == ["session.logged", "link.revoked"]


def test_consenting_again_after_withdrawal_queues_events_again(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic)
    client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=enrolled_patient.headers)
    link(client, clinic, enrolled_patient)
    log_ok(client, enrolled_patient)
    assert types_of(database, sub["id"]) == ["link.revoked", "link.created", "session.logged"]


# ---------------------------------------------------------------------------
# Each event type, queued when its action happens


def test_redeeming_a_code_queues_link_created(
    client: TestClient, clinic: ClinicSetup, database: Database, member: Person
) -> None:
    sub = subscribe(client, clinic)
    assert all_deliveries(database) == 0
    link(client, clinic, member)
    [delivery] = queued(database, sub["id"])
    assert delivery.event_type == "link.created"
    assert delivery.status == "pending"
    assert delivery.attempts == 0
    assert delivery.payload["id"] == delivery.event_id
    assert delivery.payload["type"] == "link.created"
    assert delivery.payload["clinic_id"] == clinic.id
    assert delivery.payload["data"] == {"patient_id": member.id}
    uuid.UUID(delivery.event_id)


def test_a_clinician_assigning_a_program_queues_program_assigned(
    client: TestClient,
    clinic: ClinicSetup,
    database: Database,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    patient = make_linked_patient(clinic)
    sub = subscribe(client, clinic)
    assigned = client.post(
        clinic.path(f"/patients/{patient.id}/enrollments"),
        headers=clinic.owner.headers,
        json={"program": PROGRAM},
    )
    assert assigned.status_code == 201, assigned.text
    [delivery] = queued(database, sub["id"])
    assert delivery.event_type == "program.assigned"
    assert delivery.payload["data"] == {
        "patient_id": patient.id,
        "program": PROGRAM,
        "assigned_by": clinic.owner.id,
    }


def test_putting_a_session_queues_session_logged(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic)
    logged = log_ok(client, enrolled_patient, pain=2)
    [delivery] = queued(database, sub["id"])
    assert delivery.event_type == "session.logged"
    data = delivery.payload["data"]
    assert data["patient_id"] == enrolled_patient.id
    assert data["session_id"] == logged["id"]
    assert data["program"] == PROGRAM
    assert data["stage"] == 1
    assert data["outcome"] == "created"
    assert data["entries"] == len(level1(client))
    assert data["worst_pain"] == 2


@pytest.mark.parametrize(("pain", "reported"), [(4, False), (5, True), (9, True)])
def test_pain_at_the_stage_limit_queues_pain_reported(
    client: TestClient,
    clinic: ClinicSetup,
    database: Database,
    enrolled_patient: Person,
    pain: int,
    reported: bool,
) -> None:
    sub = subscribe(client, clinic)
    body = session_body(PROGRAM, 1, level1(client)[:2])
    body["entries"][1]["pain"] = pain  # the worst entry counts
    response = log(client, enrolled_patient, body)
    assert response.status_code == 201, response.text
    deliveries = queued(database, sub["id"])
    if not reported:
        assert [d.event_type for d in deliveries] == ["session.logged"]
        return
    assert [d.event_type for d in deliveries] == ["session.logged", "pain.reported"]
    data = deliveries[1].payload["data"]
    assert (data["pain"], data["max_pain"]) == (pain, 5)
    assert data["session_id"] == response.json()["id"]
    assert deliveries[0].event_id != deliveries[1].event_id


def test_a_clinician_stage_override_queues_stage_advanced(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic)
    response = client.put(
        clinic.path(f"/patients/{enrolled_patient.id}/enrollments/{PROGRAM}/stage"),
        headers=clinic.owner.headers,
        json={"stage": 3, "reason": "Strong progress in clinic"},
    )
    assert response.status_code == 200, response.text
    [delivery] = queued(database, sub["id"])
    assert delivery.event_type == "stage.advanced"
    assert delivery.payload["data"] == {
        "patient_id": enrolled_patient.id,
        "program": PROGRAM,
        "from_stage": 1,
        "to_stage": 3,
        "completed": False,
        "by": "clinician",
    }


def test_advancing_by_the_rule_queues_stage_advanced(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic, ["stage.advanced"])
    for _ in range(6):
        log_ok(client, enrolled_patient, difficulty="easy", pain=0)
    assert queued(database, sub["id"]) == []
    backdate(database, enrolled_patient, PROGRAM, 8)

    advanced = client.post(
        f"/v1/me/enrollments/{PROGRAM}/advance", headers=enrolled_patient.headers
    )
    assert advanced.status_code == 200, advanced.text
    assert advanced.json()["current_stage"]["position"] == 2
    [delivery] = queued(database, sub["id"])
    assert delivery.event_type == "stage.advanced"
    assert delivery.payload["data"] == {
        "patient_id": enrolled_patient.id,
        "program": PROGRAM,
        "from_stage": 1,
        "to_stage": 2,
        "completed": False,
        "by": "rule",
    }


def test_a_refused_advance_queues_nothing(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    subscribe(client, clinic, ["stage.advanced"])
    refused = client.post(f"/v1/me/enrollments/{PROGRAM}/advance", headers=enrolled_patient.headers)
    assert refused.status_code == 409
    assert all_deliveries(database) == 0


def test_withdrawing_consent_queues_link_revoked(
    client: TestClient,
    clinic: ClinicSetup,
    database: Database,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    patient = make_linked_patient(clinic)
    sub = subscribe(client, clinic, ["link.revoked"])
    response = client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert response.status_code == 204
    assert types_of(database, sub["id"]) == ["link.revoked"]
    # Withdrawing again is a 404 and queues nothing more.
    again = client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert again.status_code == 404
    assert types_of(database, sub["id"]) == ["link.revoked"]


# ---------------------------------------------------------------------------
# Only what happened, only what was asked for


def test_a_refused_session_queues_nothing(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    subscribe(client, clinic)
    ahead = log(client, enrolled_patient, session_body(PROGRAM, 3, level1(client), pain=9))
    assert ahead.status_code == 409  # a stage not reached
    stranger = session_body(PROGRAM, 1, ["no-such-exercise"], pain=9)
    assert log(client, enrolled_patient, stranger).status_code == 422
    assert all_deliveries(database) == 0


def test_a_rejected_item_of_a_sync_batch_queues_nothing(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic, ["session.logged"])
    good_id, bad_id = str(uuid.uuid4()), str(uuid.uuid4())
    good = {"id": good_id, **session_body(PROGRAM, 1, level1(client))}
    bad = {"id": bad_id, **session_body(PROGRAM, 4, level1(client))}
    response = client.post(
        "/v1/me/sessions/sync", headers=enrolled_patient.headers, json={"sessions": [good, bad]}
    )
    assert response.status_code == 200, response.text
    [delivery] = queued(database, sub["id"])
    assert delivery.payload["data"]["session_id"] == good_id


def painful_sessions(
    client: TestClient, patient: Person
) -> Callable[[uuid.UUID], StagedWork[write.Written]]:
    """The route's write of a stage-1 session at pain 8 (session.logged and pain.reported),
    by session id; the catalogue is read once."""
    snapshot = CATALOG.of_app(client.app).refresh()
    body = SessionIn.model_validate(session_body(PROGRAM, 1, level1(client), pain=8))

    def painful(session_id: uuid.UUID) -> StagedWork[write.Written]:
        return lambda session: write.put_session(
            session,
            user_id=patient.id,
            session_id=session_id,
            body=body,
            snapshot=snapshot,
            now=utcnow(),
        )

    return painful


def test_sessions_logged_together_each_queue_their_events(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    """Sessions logged at the same moment are written as one group (on PostgreSQL, in
    lockstep): each still queues its own events, in its own transaction's commit."""
    sub = subscribe(client, clinic)
    session_ids = [uuid.uuid4() for _ in range(3)]

    painful = painful_sessions(client, enrolled_patient)
    written = submit_together(database, [painful(session_id) for session_id in session_ids])

    assert [w.outcome for w in written] == [write.Outcome.CREATED] * 3
    events = [(d.event_type, d.payload["data"]["session_id"]) for d in queued(database, sub["id"])]
    assert sorted(events) == sorted(
        (kind, str(session_id))
        for session_id in session_ids
        for kind in ("pain.reported", "session.logged")
    )


def test_an_event_of_a_rolled_back_change_is_not_queued(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    """The session and its events are one transaction: if it rolls back, so do they."""
    subscribe(client, clinic)
    session_id = uuid.uuid4()
    put = painful_sessions(client, enrolled_patient)(session_id)

    def put_then_crash() -> None:
        with database.write_session() as session:
            outcome = run_through(put(session)).outcome
            assert outcome is write.Outcome.CREATED
            # The events are there inside the transaction...
            queued_here = session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.channel == Channel.WEBHOOK)
            ).one()
            assert queued_here == 2
            raise CrashError

    def emit_then_crash() -> None:
        with database.write_session() as session:
            emitted = emit(
                session,
                patient_id=enrolled_patient.id,
                event_type=EventType.STAGE_ADVANCED,
                data={"program": PROGRAM},
            )
            assert emitted is not None
            raise CrashError

    with pytest.raises(CrashError):
        put_then_crash()
    # ...and gone with it.
    assert all_deliveries(database) == 0
    with database.read_session() as session:
        assert session.get(SessionLog, str(session_id)) is None

    with pytest.raises(CrashError):
        emit_then_crash()
    assert all_deliveries(database) == 0


def test_a_subscription_gets_only_the_event_types_it_asked_for(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    pain_only = subscribe(client, clinic, ["pain.reported"])
    sessions_only = subscribe(client, clinic, ["session.logged"])
    links_only = subscribe(client, clinic, ["link.created", "link.revoked"])

    log_ok(client, enrolled_patient, pain=2)
    log_ok(client, enrolled_patient, pain=6)
    override = client.put(
        clinic.path(f"/patients/{enrolled_patient.id}/enrollments/{PROGRAM}/stage"),
        headers=clinic.owner.headers,
        json={"stage": 2, "reason": "Ready"},
    )
    assert override.status_code == 200
    client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=enrolled_patient.headers)

    assert types_of(database, pain_only["id"]) == ["pain.reported"]
    assert types_of(database, sessions_only["id"]) == ["session.logged", "session.logged"]
    assert types_of(database, links_only["id"]) == ["link.revoked"]


def test_a_replayed_identical_put_queues_no_second_event(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic)
    session_id = str(uuid.uuid4())
    body = session_body(PROGRAM, 1, level1(client), pain=6)
    assert log(client, enrolled_patient, body, session_id).status_code == 201
    replay = log(client, enrolled_patient, body, session_id)
    assert replay.status_code == 200
    assert types_of(database, sub["id"]) == ["session.logged", "pain.reported"]

    # A real change to the same session is news again.
    changed = session_body(PROGRAM, 1, level1(client)[:1], pain=1)
    assert log(client, enrolled_patient, changed, session_id).status_code == 200
    deliveries = queued(database, sub["id"])
    assert [d.event_type for d in deliveries] == [
        "session.logged",
        "pain.reported",
        "session.logged",
    ]
    assert deliveries[-1].payload["data"]["outcome"] == "replaced"


def test_an_inactive_subscription_gets_nothing(
    client: TestClient, clinic: ClinicSetup, database: Database, enrolled_patient: Person
) -> None:
    sub = subscribe(client, clinic)
    with database.write_session() as session:
        stored = session.get(WebhookSubscription, sub["id"])
        assert stored is not None
        stored.active = False
        session.add(stored)
    log_ok(client, enrolled_patient)
    assert all_deliveries(database) == 0


def test_an_api_client_needs_the_webhooks_scope(client: TestClient, clinic: ClinicSetup) -> None:
    reader = api_client_token(client, clinic, ["patients:read"])
    body = {"url": PUBLIC_URL, "event_types": ["session.logged"]}
    assert client.post(clinic.path("/webhooks"), headers=reader, json=body).status_code == 403
    assert client.get(clinic.path("/webhooks"), headers=reader).status_code == 403
    manager = api_client_token(client, clinic, ["webhooks:manage"])
    created = client.post(clinic.path("/webhooks"), headers=manager, json=body)
    assert created.status_code == 201, created.text
    assert client.get(clinic.path("/webhooks"), headers=manager).status_code == 200
