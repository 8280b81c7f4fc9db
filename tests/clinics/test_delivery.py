"""The delivery worker against a real local HTTP receiver: signatures a receiver can verify,
retries with exponential backoff, failure after the bounded number of tries, redelivery,
a receiver that is down, the outbox surviving a crash, and two workers sending once."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.clinics.delivery import WebhookSender
from app.clinics.models import WebhookSubscription
from app.clinics.webhooks import SECRET_BOX
from app.core.config import Settings
from app.core.db import Database
from app.core.models import utcnow
from app.main import OUTBOX_WORKER, create_app
from app.outbox.models import Channel
from app.outbox.worker import OutboxWorker, Pacing, RetryPolicy, backoff
from tests.clinics.receiver import Received, Receiver

# The `receiver` fixture, re-exported so pytest finds it in this module.
from tests.clinics.receiver import receiver as receiver
from tests.conftest import ClinicSetup, LinkedPatientFactory, Person
from tests.progress.conftest import enroll, log, session_body, stage_slugs

pytestmark = pytest.mark.usefixtures("seeded")

PROGRAM = "whole-leg-rehabilitation"
ALL_EVENTS = [
    "session.logged",
    "stage.advanced",
    "pain.reported",
    "link.created",
    "link.revoked",
    "program.assigned",
]


# ---------------------------------------------------------------------------
# A receiver's check: the Standard Webhooks library's own signing, compared with every
# signature the header carries (the library's `verify` also refuses timestamps five
# minutes off the real clock, which tests that move a clock go past).


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(headers["webhook-id"], sent_at, body.decode())
    return expected in headers["webhook-signature"].split(" ")


def receiver_accepts(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """What a receiver running the Standard Webhooks library does with a delivery, now."""
    try:
        Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError:
        return False
    return True


# ---------------------------------------------------------------------------
# The app, with private targets allowed so it may post to 127.0.0.1


@pytest.fixture
def private_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private_targets": True})


@pytest.fixture
def client(private_settings: Settings, database: Database) -> Iterator[TestClient]:
    """Replaces the default `client` here, so the clinic fixtures are built against it."""
    with TestClient(create_app(private_settings, database=database)) as test_client:
        yield test_client


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


WorkerFactory = Callable[..., OutboxWorker]


@pytest.fixture
def make_worker(
    client: TestClient, database: Database, private_settings: Settings
) -> Iterator[WorkerFactory]:
    """A worker of our own on the shared database, optionally on a controllable clock."""
    http_clients: list[httpx.Client] = []

    def make(
        *,
        clock: Callable[[], datetime] = utcnow,
        allow_private: bool = True,
        max_attempts: int | None = None,
        per_lane: int = Pacing().per_lane,
    ) -> OutboxWorker:
        http = httpx.Client(timeout=private_settings.webhook_timeout_seconds)
        http_clients.append(http)
        sender = WebhookSender(
            database,
            SECRET_BOX.of_app(client.app),
            timeout_seconds=private_settings.webhook_timeout_seconds,
            allow_private=allow_private,
            client=http,
            clock=clock,
        )
        retry = RetryPolicy(
            max_attempts=max_attempts or private_settings.webhook_max_attempts,
            backoff_seconds=private_settings.webhook_backoff_seconds,
        )
        pacing = Pacing(per_lane=per_lane)
        return OutboxWorker(database, {Channel.WEBHOOK: sender}, retry, pacing=pacing, clock=clock)

    yield make
    for http in http_clients:
        http.close()


def app_worker(client: TestClient) -> OutboxWorker:
    """The app's own worker, for webhooks (mail, such as staff invitations, stays queued)."""
    return OUTBOX_WORKER.of_app(client.app).only(Channel.WEBHOOK)


# ---------------------------------------------------------------------------
# Helpers


def subscribe(
    client: TestClient, clinic: ClinicSetup, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": url, "event_types": events or ALL_EVENTS},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def deliveries(client: TestClient, clinic: ClinicSetup, webhook_id: int) -> list[dict[str, Any]]:
    """The delivery log, oldest first."""
    response = client.get(
        clinic.path(f"/webhooks/{webhook_id}/deliveries"),
        headers=clinic.owner.headers,
        params={"limit": 100},
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return list(reversed(items))


def only_delivery(client: TestClient, clinic: ClinicSetup, webhook_id: int) -> dict[str, Any]:
    [delivery] = deliveries(client, clinic, webhook_id)
    return delivery


def log_session(client: TestClient, person: Person, *, pain: int = 0) -> str:
    body = session_body(PROGRAM, 1, stage_slugs(client, PROGRAM, 1)[:2], pain=pain)
    response = log(client, person, body)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["id"]
    return session_id


def at(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def free_port() -> int:
    """A port nobody listens on (bound, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def ids_of(requests: list[Received]) -> list[str]:
    return [request.header("Webhook-Id") for request in requests]


@pytest.fixture
def patient(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> Person:
    """A linked patient following the whole-leg program."""
    linked = make_linked_patient(clinic)
    enroll(client, linked, PROGRAM)
    return linked


# ---------------------------------------------------------------------------
# What a delivery looks like


def test_a_delivery_is_signed_so_a_receiver_can_verify_it(
    client: TestClient, clinic: ClinicSetup, patient: Person, receiver: Receiver
) -> None:
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    session_id = log_session(client, patient, pain=2)

    assert app_worker(client).run_once() == 1
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.header("Content-Type").startswith("application/json")
    payload = request.json()
    assert request.header("Webhook-Id") == payload["id"]
    assert abs(int(request.header("Webhook-Timestamp")) - time.time()) < 60
    assert request.header("Webhook-Signature").startswith("v1,")
    assert receiver_accepts(hook["secret"], request.headers, request.body)
    assert payload["type"] == "session.logged"
    assert payload["clinic_id"] == clinic.id
    assert payload["data"]["patient_id"] == patient.id
    assert payload["data"]["session_id"] == session_id

    assert verify(hook["secret"], request.headers, request.body)
    assert not verify(hook["secret"], request.headers, request.body.replace(b"2", b"9", 1))
    assert not verify(hook["secret"], request.headers, request.body + b" ")
    assert not verify("whsec_" + "x" * 43, request.headers, request.body)
    replayed_later = {**request.headers, "webhook-timestamp": str(int(time.time()) + 300)}
    assert not verify(hook["secret"], replayed_later, request.body)

    delivery = only_delivery(client, clinic, hook["id"])
    assert delivery["event_id"] == payload["id"]
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 1
    assert 200 <= delivery["last_status_code"] < 300
    assert delivery["last_error"] is None
    assert delivery["delivered_at"] is not None

    # Delivered means done: nothing is sent again.
    assert app_worker(client).run_once() == 0
    assert len(receiver.requests) == 1


def test_each_subscription_signs_with_its_own_secret(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    with Receiver() as first, Receiver() as second:
        hook_1 = subscribe(client, clinic, first.url, ["session.logged"])
        hook_2 = subscribe(client, clinic, second.url, ["session.logged"])
        log_session(client, patient)
        assert app_worker(client).run_once() == 2
        [to_first] = first.requests
        [to_second] = second.requests
    assert to_first.header("Webhook-Id") == to_second.header("Webhook-Id")
    assert verify(hook_1["secret"], to_first.headers, to_first.body)
    assert verify(hook_2["secret"], to_second.headers, to_second.body)
    assert not verify(hook_1["secret"], to_second.headers, to_second.body)


def test_only_linked_patients_events_reach_the_receiver(
    client: TestClient,
    clinic: ClinicSetup,
    member: Person,
    make_linked_patient: LinkedPatientFactory,
    receiver: Receiver,
) -> None:
    subscribe(client, clinic, receiver.url)
    enroll(client, member, PROGRAM)
    linked = make_linked_patient(clinic)
    enroll(client, linked, PROGRAM)
    log_session(client, member, pain=9)
    linked_session = log_session(client, linked, pain=1)
    log_session(client, member, pain=9)

    assert app_worker(client).run_once() == 2
    payloads = [request.json() for request in receiver.requests]
    assert [p["type"] for p in payloads] == ["link.created", "session.logged"]
    assert {p["data"]["patient_id"] for p in payloads} == {linked.id}
    assert payloads[1]["data"]["session_id"] == linked_session


# ---------------------------------------------------------------------------
# Retries, backoff, failure, redelivery


def test_failures_are_retried_with_doubling_backoff_until_delivered(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    make_worker: WorkerFactory,
    private_settings: Settings,
) -> None:
    receiver.respond(500, 500, 200)
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    log_session(client, patient)
    clock = FakeClock(utcnow())
    worker = make_worker(clock=clock)
    base = timedelta(seconds=private_settings.webhook_backoff_seconds)
    second = timedelta(seconds=1)

    # First attempt: 500, retried after the base delay.
    assert worker.run_once() == 1
    first = only_delivery(client, clinic, hook["id"])
    assert first["status"] == "pending"
    assert first["attempts"] == 1
    assert first["last_status_code"] == 500
    assert first["last_error"]
    assert abs(at(first["next_attempt_at"]) - (clock.now + base)) < second

    # Not due yet: nothing is sent, neither at once nor just before the delay ends.
    assert worker.run_once() == 0
    clock.advance(base - second)
    assert worker.run_once() == 0
    assert len(receiver.requests) == 1

    # Second attempt: 500 again, and the delay doubles.
    clock.advance(second)
    assert worker.run_once() == 1
    retried = only_delivery(client, clinic, hook["id"])
    assert (retried["status"], retried["attempts"]) == ("pending", 2)
    assert abs(at(retried["next_attempt_at"]) - (clock.now + 2 * base)) < second
    clock.advance(2 * base - second)
    assert worker.run_once() == 0
    assert len(receiver.requests) == 2

    # Third attempt succeeds.
    clock.advance(second)
    assert worker.run_once() == 1
    done = only_delivery(client, clinic, hook["id"])
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 3, 200)
    assert done["last_error"] is None
    clock.advance(timedelta(days=1))
    assert worker.run_once() == 0

    # Every try was the same event, freshly signed.
    assert len(set(ids_of(receiver.requests))) == 1
    assert all(verify(hook["secret"], r.headers, r.body) for r in receiver.requests)


def test_the_backoff_doubles_from_the_base_and_is_capped() -> None:
    assert [backoff(n, 30).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(29, 30) == timedelta(hours=6)


def test_after_the_maximum_attempts_a_delivery_fails_and_is_not_retried(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    make_worker: WorkerFactory,
    private_settings: Settings,
) -> None:
    receiver.respond(then=503)
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    log_session(client, patient)
    clock = FakeClock(utcnow())
    worker = make_worker(clock=clock)
    limit = private_settings.webhook_max_attempts

    for attempt in range(1, limit + 1):
        assert worker.run_once() == 1, f"attempt {attempt}"
        state = only_delivery(client, clinic, hook["id"])
        assert state["attempts"] == attempt
        assert state["status"] == ("failed" if attempt == limit else "pending")
        clock.advance(timedelta(hours=7))  # past any backoff (capped at six hours)

    failed = only_delivery(client, clinic, hook["id"])
    assert failed["last_status_code"] == 503
    assert failed["delivered_at"] is None
    clock.advance(timedelta(days=30))
    assert worker.run_once() == 0
    assert len(receiver.requests) == limit


def test_redelivering_a_failed_delivery_sends_the_same_event_again(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    make_worker: WorkerFactory,
) -> None:
    receiver.respond(500, 500)
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    log_session(client, patient)
    clock = FakeClock(utcnow())
    worker = make_worker(clock=clock, max_attempts=2)
    assert worker.run_once() == 1
    clock.advance(timedelta(hours=7))
    assert worker.run_once() == 1
    failed = only_delivery(client, clinic, hook["id"])
    assert failed["status"] == "failed"
    original_id = receiver.requests[0].header("Webhook-Id")

    redelivered = client.post(
        clinic.path(f"/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver"),
        headers=clinic.owner.headers,
    )
    assert redelivered.status_code == 202, redelivered.text
    assert redelivered.json()["status"] == "pending"
    assert redelivered.json()["event_id"] == failed["event_id"]
    assert only_delivery(client, clinic, hook["id"])["status"] == "pending"

    assert worker.run_once() == 1
    assert ids_of(receiver.requests) == [original_id] * 3
    last = receiver.requests[-1]
    assert verify(hook["secret"], last.headers, last.body)
    done = only_delivery(client, clinic, hook["id"])
    assert done["status"] == "delivered"
    assert done["last_status_code"] == 200


def test_redelivering_a_delivered_event_sends_it_again_with_the_same_id(
    client: TestClient, clinic: ClinicSetup, patient: Person, receiver: Receiver
) -> None:
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    log_session(client, patient)
    assert app_worker(client).run_once() == 1
    delivered = only_delivery(client, clinic, hook["id"])
    response = client.post(
        clinic.path(f"/webhooks/{hook['id']}/deliveries/{delivered['id']}/redeliver"),
        headers=clinic.owner.headers,
    )
    assert response.status_code == 202
    assert app_worker(client).run_once() == 1
    assert ids_of(receiver.requests) == [delivered["event_id"]] * 2


def test_redeliver_of_an_unknown_delivery_is_404(
    client: TestClient, clinic: ClinicSetup, patient: Person, receiver: Receiver
) -> None:
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    other = subscribe(client, clinic, receiver.url, ["link.created"])
    log_session(client, patient)
    delivery = only_delivery(client, clinic, hook["id"])
    for path in (
        f"/webhooks/{hook['id']}/deliveries/999999/redeliver",
        f"/webhooks/{other['id']}/deliveries/{delivery['id']}/redeliver",
    ):
        response = client.post(clinic.path(path), headers=clinic.owner.headers)
        assert response.status_code == 404, path


def test_a_receiver_that_is_down_counts_as_a_failed_attempt(
    client: TestClient, clinic: ClinicSetup, patient: Person
) -> None:
    hook = subscribe(client, clinic, f"http://127.0.0.1:{free_port()}/hook", ["session.logged"])
    log_session(client, patient)

    assert app_worker(client).run_once() == 1
    state = only_delivery(client, clinic, hook["id"])
    assert state["status"] == "pending"
    assert state["attempts"] == 1
    assert state["last_status_code"] is None
    assert state["last_error"]
    assert state["last_attempt_at"] is not None
    assert at(state["next_attempt_at"]) > utcnow()


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    client: TestClient, clinic: ClinicSetup, patient: Person, receiver: Receiver
) -> None:
    receiver.respond(302)
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    log_session(client, patient)
    assert app_worker(client).run_once() == 1
    assert len(receiver.requests) == 1
    state = only_delivery(client, clinic, hook["id"])
    assert (state["status"], state["last_status_code"]) == ("pending", 302)


def test_the_target_is_checked_again_before_each_delivery(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    make_worker: WorkerFactory,
) -> None:
    """A worker that does not allow private targets refuses to post to 127.0.0.1."""
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    log_session(client, patient)
    strict = make_worker(allow_private=False)
    assert strict.run_once() == 1
    assert receiver.requests == []
    state = only_delivery(client, clinic, hook["id"])
    assert (state["status"], state["attempts"]) == ("pending", 1)
    assert state["last_error"]


def test_a_malformed_target_fails_its_own_delivery_without_stopping_the_others(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    database: Database,
) -> None:
    # Stored directly: this is about the worker, whatever the subscription check accepts.
    box = SECRET_BOX.of_app(client.app)
    with database.write_session() as session:
        bad = WebhookSubscription(
            clinic_id=clinic.id,
            url="https://93.184.216.34:abc/hook",
            secret_encrypted=box.seal("whsec_bad"),
            event_types=["session.logged"],
        )
        session.add(bad)
        session.flush()
        bad_id = bad.id
    log_session(client, patient)  # the oldest due row: the bad one
    good = subscribe(client, clinic, receiver.url, ["session.logged"])
    log_session(client, patient)

    assert app_worker(client).run_once() == 3
    poisoned = deliveries(client, clinic, bad_id or 0)
    assert all(d["attempts"] == 1 and d["last_error"] for d in poisoned)
    assert [d["status"] for d in deliveries(client, clinic, good["id"])] == ["delivered"]
    assert len(receiver.requests) == 1


# ---------------------------------------------------------------------------
# Crash safety and concurrency


def test_the_outbox_survives_a_crash_between_commit_and_delivery(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    private_settings: Settings,
) -> None:
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    session_id = log_session(client, patient)  # committed; the worker never runs
    assert receiver.requests == []

    # "Restart": a brand-new engine, app and worker on the same database.
    restarted_db = Database.from_settings(private_settings)
    try:
        with TestClient(create_app(private_settings, database=restarted_db)) as restarted:
            assert app_worker(restarted).run_once() == 1
    finally:
        restarted_db.dispose()

    [request] = receiver.requests
    assert request.json()["data"]["session_id"] == session_id
    assert verify(hook["secret"], request.headers, request.body)
    assert only_delivery(client, clinic, hook["id"])["status"] == "delivered"


def test_two_workers_deliver_each_pending_row_exactly_once(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    make_worker: WorkerFactory,
) -> None:
    subscribe(client, clinic, receiver.url, ["session.logged", "pain.reported"])
    for _ in range(8):
        log_session(client, patient, pain=6)  # session.logged and pain.reported each
    expected = 16

    workers = [make_worker(), make_worker()]
    barrier = threading.Barrier(len(workers))
    attempted = [0] * len(workers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            while True:
                sent = workers[index].run_once(limit=3)
                if sent == 0:
                    return
                attempted[index] += sent
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)

    received = Counter(ids_of(receiver.requests))
    assert len(received) == expected
    assert set(received.values()) == {1}, received
    assert sum(attempted) == expected
    statuses = {d["status"] for d in deliveries_all(client, clinic)}
    assert statuses == {"delivered"}


def deliveries_all(client: TestClient, clinic: ClinicSetup) -> list[dict[str, Any]]:
    hooks = client.get(clinic.path("/webhooks"), headers=clinic.owner.headers).json()
    return [d for hook in hooks for d in deliveries(client, clinic, hook["id"])]


def test_a_slow_batch_is_not_sent_again_by_a_second_worker(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    make_worker: WorkerFactory,
    private_settings: Settings,
) -> None:
    """A receiver answering just under the timeout; meanwhile another worker polls."""
    slow = timedelta(seconds=private_settings.webhook_timeout_seconds * 0.98)
    poll_at = timedelta(seconds=61)  # the other worker polls a minute into the batch
    rows = int(poll_at / slow) + 6  # a batch that takes longer than that to send
    lease_over = threading.Event()
    resume = threading.Event()
    clock = FakeClock(utcnow())  # shared "real" time, moved by the slow receiver

    def slow_answer(_: Received) -> None:
        clock.advance(slow)
        if clock.now > polls_at and not lease_over.is_set():
            lease_over.set()  # the first worker is mid-batch, past LEASE
            resume.wait(timeout=10)

    with Receiver(on_request=slow_answer) as slow_receiver:
        subscribe(client, clinic, slow_receiver.url, ["session.logged"])
        for _ in range(rows):
            log_session(client, patient)
        clock.now = utcnow()
        polls_at = clock.now + poll_at
        # One lane's whole batch in one claim: longer to send than the lease margin.
        first = make_worker(clock=clock, per_lane=rows)
        second = make_worker(clock=clock, per_lane=rows)
        errors: list[BaseException] = []

        def run_first() -> None:
            try:
                first.run_once(limit=50)
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=run_first)
        thread.start()
        try:
            assert lease_over.wait(timeout=30)
            second.run_once(limit=50)  # a poll by the other worker, as it would every 2 s
        finally:
            resume.set()
            thread.join(timeout=30)
        assert errors == []
        received = Counter(ids_of(slow_receiver.requests))

    assert len(received) == rows
    assert set(received.values()) == {1}, received


# ---------------------------------------------------------------------------
# Consent withdrawn: nothing more about the patient goes out


def test_withdrawing_consent_stops_queued_and_retrying_deliveries(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    make_worker: WorkerFactory,
) -> None:
    hook = subscribe(client, clinic, receiver.url)
    receiver.respond(500, 500)  # the first attempts fail: retries are owed
    log_session(client, patient, pain=7)
    clock = FakeClock(utcnow() + timedelta(seconds=1))
    worker = make_worker(clock=clock)
    assert worker.run_once() == 2  # session.logged and pain.reported, both refused
    assert len(receiver.requests) == 2
    log_session(client, patient, pain=1)  # queued, not yet sent

    withdrawn = client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers)
    assert withdrawn.status_code == 204
    clock.advance(timedelta(days=1))  # past every backoff
    worker.run_once()
    worker.run_once()

    after = receiver.requests[2:]
    assert [r.json()["type"] for r in after] == ["link.revoked"]
    statuses = Counter(d["status"] for d in deliveries(client, clinic, hook["id"]))
    assert statuses == {"cancelled": 3, "delivered": 1}


def test_a_delivery_about_a_patient_who_withdrew_cannot_be_redelivered(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
) -> None:
    hook = subscribe(client, clinic, receiver.url, ["session.logged", "link.revoked"])
    log_session(client, patient)
    assert app_worker(client).run_once() == 1
    sent = only_delivery(client, clinic, hook["id"])
    assert client.delete(f"/v1/me/clinic-links/{clinic.id}", headers=patient.headers).status_code
    again = client.post(
        clinic.path(f"/webhooks/{hook['id']}/deliveries/{sent['id']}/redeliver"),
        headers=clinic.owner.headers,
    )
    assert again.status_code == 409
    assert app_worker(client).run_once() == 1  # link.revoked only
    assert [r.json()["type"] for r in receiver.requests] == ["session.logged", "link.revoked"]


def test_a_failed_attempt_records_a_coarse_class_not_the_networks_words(
    client: TestClient, clinic: ClinicSetup, patient: Person, make_worker: WorkerFactory
) -> None:
    """A closed port on a host the clinic names must not be told apart from a dead host by
    the error text (the log would be a port scanner)."""
    hook = subscribe(client, clinic, f"http://127.0.0.1:{free_port()}/hook", ["session.logged"])
    log_session(client, patient)
    assert make_worker().run_once() == 1
    delivery = only_delivery(client, clinic, hook["id"])
    assert delivery["last_error"] == "connection_failed"
    assert delivery["last_status_code"] is None


# ---------------------------------------------------------------------------
# Fairness: a slow clinic delays only itself


def test_a_slow_clinic_delays_only_its_own_deliveries(
    client: TestClient,
    make_clinic: Callable[..., ClinicSetup],
    make_linked_patient: LinkedPatientFactory,
    private_settings: Settings,
    database: Database,
) -> None:
    """Ten subscriptions of one clinic to a receiver that hangs past the timeout; another
    clinic's event still arrives within two seconds (it waited 30 s behind them)."""
    slow_clinic, fast_clinic = make_clinic("Slow"), make_clinic("Fast")
    hanging = threading.Event()

    def hang(_: Received) -> None:
        hanging.wait(timeout=10)

    with Receiver(on_request=hang) as slow, Receiver() as fast:
        for _ in range(private_settings.webhook_max_subscriptions):
            subscribe(client, slow_clinic, slow.url, ["session.logged"])
        subscribe(client, fast_clinic, fast.url, ["session.logged"])
        slow_patient = make_linked_patient(slow_clinic)
        fast_patient = make_linked_patient(fast_clinic)
        enroll(client, slow_patient, PROGRAM)
        enroll(client, fast_patient, PROGRAM)
        log_session(client, slow_patient)

        settings = private_settings.model_copy(update={"webhook_timeout_seconds": 1.0})
        worker = create_app(settings, database=database)
        stop = threading.Event()
        thread = threading.Thread(target=OUTBOX_WORKER.of_app(worker).run_forever, args=(0.1, stop))
        thread.start()
        try:
            deadline = time.monotonic() + 5
            while not slow.requests and time.monotonic() < deadline:
                time.sleep(0.02)
            assert slow.requests  # the slow clinic's lane is busy now
            logged = time.monotonic()
            log_session(client, fast_patient)
            while not fast.requests and time.monotonic() < logged + 5:
                time.sleep(0.02)
            waited = time.monotonic() - logged
        finally:
            stop.set()
            hanging.set()
            thread.join(timeout=30)
    assert fast.requests, "the fast clinic's delivery never arrived"
    assert waited < 2.0, f"the fast clinic waited {waited:.1f} s behind the slow one"


def test_a_clinic_holds_a_bounded_number_of_subscriptions(
    client: TestClient, clinic: ClinicSetup, private_settings: Settings, receiver: Receiver
) -> None:
    for _ in range(private_settings.webhook_max_subscriptions):
        subscribe(client, clinic, receiver.url)
    refused = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": receiver.url, "event_types": ["session.logged"]},
    )
    assert refused.status_code == 409
    listed = client.get(clinic.path("/webhooks"), headers=clinic.owner.headers).json()
    assert len(listed) == private_settings.webhook_max_subscriptions


# ---------------------------------------------------------------------------
# Keeping a subscription: rotating its secret, pinging it, editing it


def test_a_rotated_secret_and_the_old_one_both_verify_until_the_grace_ends(
    client: TestClient,
    clinic: ClinicSetup,
    patient: Person,
    receiver: Receiver,
    make_worker: WorkerFactory,
) -> None:
    hook = subscribe(client, clinic, receiver.url, ["session.logged"])
    rotated = client.post(
        clinic.path(f"/webhooks/{hook['id']}/rotate-secret"), headers=clinic.owner.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != hook["secret"]
    log_session(client, patient)
    assert app_worker(client).run_once() == 1
    during = receiver.requests[-1]
    assert len(during.header("Webhook-Signature").split(" ")) == 2
    assert receiver_accepts(hook["secret"], during.headers, during.body)
    assert receiver_accepts(new_secret, during.headers, during.body)

    log_session(client, patient)
    after_grace = FakeClock(utcnow() + timedelta(hours=25))
    assert make_worker(clock=after_grace).run_once() == 1
    after = receiver.requests[-1]
    assert verify(new_secret, after.headers, after.body)
    assert not verify(hook["secret"], after.headers, after.body)


def test_a_ping_tests_the_receiver_and_an_edit_changes_what_arrives(
    client: TestClient, clinic: ClinicSetup, patient: Person, receiver: Receiver
) -> None:
    hook = subscribe(client, clinic, receiver.url, ["pain.reported"])
    pinged = client.post(clinic.path(f"/webhooks/{hook['id']}/ping"), headers=clinic.owner.headers)
    assert pinged.status_code == 202, pinged.text
    assert app_worker(client).run_once() == 1
    assert receiver.requests[-1].json()["type"] == "webhook.ping"

    log_session(client, patient)  # no pain: nothing for this subscription
    assert app_worker(client).run_once() == 0
    edited = client.patch(
        clinic.path(f"/webhooks/{hook['id']}"),
        headers=clinic.owner.headers,
        json={"event_types": ["session.logged"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["event_types"] == ["session.logged"]
    log_session(client, patient)
    assert app_worker(client).run_once() == 1
    assert receiver.requests[-1].json()["type"] == "session.logged"
    paused = client.patch(
        clinic.path(f"/webhooks/{hook['id']}"), headers=clinic.owner.headers, json={"active": False}
    )
    assert paused.json()["active"] is False
    log_session(client, patient)
    assert app_worker(client).run_once() == 0


def test_an_api_clients_secret_rotates_and_the_old_one_stops_working(
    client: TestClient, clinic: ClinicSetup
) -> None:
    created = client.post(
        clinic.path("/api-clients"),
        headers=clinic.owner.headers,
        json={"name": "Practice system", "scopes": ["patients:read"]},
    ).json()

    def token_with(secret: str) -> int:
        return client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": secret,
            },
        ).status_code

    assert token_with(created["client_secret"]) == 200
    rotated = client.post(
        clinic.path(f"/api-clients/{created['id']}/rotate-secret"), headers=clinic.owner.headers
    )
    assert rotated.status_code == 200, rotated.text
    assert token_with(created["client_secret"]) == 401
    assert token_with(rotated.json()["client_secret"]) == 200
