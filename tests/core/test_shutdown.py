"""Graceful shutdown: requests and webhook deliveries in flight finish; nothing new starts.

The webhook worker is driven in a thread against a transport that holds a
delivery open until the test lets it go; `rehab serve` and `rehab worker` are
started as an operator starts them and sent SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlmodel import col, select
from typer.testing import CliRunner

from app.cli import cli
from app.clinics.delivery import WebhookSender
from app.clinics.models import Clinic, WebhookSubscription
from app.core.config import PROJECT_ROOT, Settings, get_settings
from app.core.db import Database
from app.core.secrets import SecretBox
from app.outbox.models import Channel, DeliveryStatus, OutboxMessage
from app.outbox.worker import OutboxWorker, RetryPolicy
from tests.conftest import TEST_SECRET

BOX = SecretBox(b"shutdown-test-" + b"k" * 32, purpose="webhook-secrets")
WAIT = 10.0  # an upper bound for things that happen at once, never a measurement


class HeldReceiver:
    """An httpx transport that keeps the first delivery open until `release` is set."""

    def __init__(self) -> None:
        self.in_flight = threading.Event()
        self.release = threading.Event()
        self.received: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request.headers["webhook-id"])
        self.in_flight.set()
        assert self.release.wait(WAIT)
        return httpx.Response(204)


@pytest.fixture
def two_due_deliveries(database: Database) -> list[int]:
    with database.write_session() as session:
        clinic = Clinic(name="Shutdown Clinic")
        session.add(clinic)
        session.flush()
        assert clinic.id is not None
        subscription = WebhookSubscription(
            clinic_id=clinic.id,
            url="https://hooks.example.com/rehab",
            secret_encrypted=BOX.seal("whsec_test"),
            event_types=["session.logged"],
        )
        session.add(subscription)
        session.flush()
        assert subscription.id is not None
        deliveries = [
            OutboxMessage(
                subscription_id=subscription.id,
                event_id=f"00000000-0000-0000-0000-00000000000{n}",
                event_type="session.logged",
                payload={"n": n},
            )
            for n in (1, 2)
        ]
        session.add_all(deliveries)
        session.flush()
        return [delivery.id for delivery in deliveries if delivery.id is not None]


def make_worker(database: Database, receiver: HeldReceiver) -> OutboxWorker:
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    sender = WebhookSender(database, BOX, timeout_seconds=5, allow_private=True, client=client)
    retry = RetryPolicy(max_attempts=3, backoff_seconds=30)
    return OutboxWorker(database, {Channel.WEBHOOK: sender}, retry)


def deliveries(database: Database) -> list[OutboxMessage]:
    with database.read_session() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def test_a_delivery_in_flight_when_stop_is_asked_is_finished_and_recorded(
    database: Database, two_due_deliveries: list[int]
) -> None:
    receiver = HeldReceiver()
    worker = make_worker(database, receiver)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(3600, stop))
    thread.start()
    assert receiver.in_flight.wait(WAIT)

    stop.set()  # what the lifespan does on shutdown
    receiver.release.set()
    thread.join(WAIT)

    assert not thread.is_alive()
    first, second = deliveries(database)
    assert first.status == DeliveryStatus.DELIVERED
    assert (first.attempts, first.last_status_code, first.locked_until) == (1, 204, None)
    # The rest of the batch was not started, and is free for the next worker at once.
    assert receiver.received == [first.event_id]
    assert second.status == DeliveryStatus.PENDING
    assert (second.attempts, second.locked_until) == (0, None)


def test_a_released_delivery_is_sent_by_the_next_worker(
    database: Database, two_due_deliveries: list[int]
) -> None:
    receiver = HeldReceiver()
    receiver.release.set()
    stop = threading.Event()
    stop.set()
    # Stopped before its first send: the whole batch goes back, untouched.
    assert make_worker(database, receiver).run_once(stop=stop) == 0
    assert all(d.locked_until is None and d.attempts == 0 for d in deliveries(database))

    assert make_worker(database, receiver).run_once() == 2
    assert {d.status for d in deliveries(database)} == {DeliveryStatus.DELIVERED}


def test_an_idle_worker_stops_without_waiting_out_its_poll(database: Database) -> None:
    worker = make_worker(database, HeldReceiver())
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(3600, stop))
    thread.start()
    stop.set()
    thread.join(WAIT)
    assert not thread.is_alive()


# ---------------------------------------------------------------------------
# The processes, as an operator runs them


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def command_env(settings: Settings, database: Database, tmp_path: Path) -> dict[str, str]:
    """The environment a `rehab` process needs to use the test database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SQL_ECHO")}
    env |= {
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.resolved_database_url,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": TEST_SECRET,
        "WEBHOOK_WORKER": "false",
        "WEBHOOK_POLL_SECONDS": "3600",
        "SHUTDOWN_GRACE_SECONDS": "10",
    }
    return env


def rehab(*args: str, env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from app.cli import main; main()", *args]
    with output.open("wb") as log:
        return subprocess.Popen(  # noqa: S603 (our own command line, no shell)
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def wait_for_output(process: subprocess.Popen[bytes], output: Path, text: str) -> None:
    deadline = time.monotonic() + 30
    while text not in output.read_text(errors="replace"):
        assert process.poll() is None, output.read_text(errors="replace")
        assert time.monotonic() < deadline, output.read_text(errors="replace")
        time.sleep(0.05)


@pytest.fixture
def server(command_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[int, Any, Path]]:
    port = free_port()
    output = tmp_path / "serve.log"
    process = rehab("serve", "--port", str(port), env=command_env, output=output)
    try:
        wait_for_output(process, output, "Uvicorn running on")  # listening (after startup)
        yield port, process, output
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def bytes_unread_by_server(server_port: int, client_port: int) -> int | None:
    """The server socket's receive queue for this connection (Linux /proc/net/tcp)."""
    wanted_local = f"0100007F:{server_port:04X}"
    wanted_remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted_local and fields[2] == wanted_remote:
            return int(fields[4].split(":")[1], 16)
    return None


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_sigterm_lets_a_request_in_flight_finish(server: tuple[int, Any, Path]) -> None:
    port, process, output = server
    body = (
        b'{"email": "late@example.com", "password": "a sturdy passphrase 42", "display_name": "L"}'
    )
    head = (
        b"POST /v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as connection:
        connection.sendall(head + body[:20])  # the request is in flight: half its body is here
        client_port = connection.getsockname()[1]
        deadline = time.monotonic() + WAIT
        while bytes_unread_by_server(port, client_port) != 0:  # the server has read it all
            assert time.monotonic() < deadline
            time.sleep(0.01)

        process.send_signal(signal.SIGTERM)
        wait_for_output(process, output, "Waiting for connections to close")
        connection.sendall(body[20:])
        response = b""
        while chunk := connection.recv(65536):
            response += chunk

    assert response.startswith(b"HTTP/1.1 201 "), response
    assert b"x-request-id: " in response
    process.wait(WAIT)
    log = output.read_text()
    assert "Application shutdown complete" in log
    # uvicorn re-raises the signal once it has shut down cleanly, as supervisors expect.
    assert process.returncode in (0, -signal.SIGTERM)


def test_the_worker_command_stops_cleanly_on_sigterm(
    command_env: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "worker.log"
    process = rehab("worker", env=command_env, output=output)
    try:
        wait_for_output(process, output, "Sending the outbox")
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Stopped." in output.read_text()


def test_serve_hands_uvicorn_the_grace_period_and_the_app_log_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("SHUTDOWN_GRACE_SECONDS", "7")
    monkeypatch.setenv("ACCESS_LOG", "true")  # restored afterwards, whatever serve sets
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--no-access-log"])
        assert result.exit_code == 0, result.output
        assert not get_settings().access_log  # what the app's process will read
    finally:
        get_settings.cache_clear()

    (options,) = calls
    assert options["timeout_graceful_shutdown"] == 7
    assert options["access_log"] is False  # uvicorn's own; the app writes its own line
    assert {"uvicorn", "uvicorn.error", "app"} <= options["log_config"]["loggers"].keys()
