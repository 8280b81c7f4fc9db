"""The real thing: two `rehab serve` processes and a `rehab worker` on one PostgreSQL (and
Redis, when TEST_REDIS_URL is set). What one instance commits, the other serves at once; the
same session sent to both is one change; writers on both never deadlock."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import Barrier
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.access.policy import Role
from app.authoring.content import apply_content
from app.core.db import Database
from app.core.migrations import upgrade_to_head
from tests.conftest import TEST_SECRET
from tests.progress.conftest import session_body
from tests.scale.conftest import create_database, drop_database, postgres_url
from tests.scale.instances import (
    PASSWORD,
    PROGRAM,
    bundle,
    instance_settings,
    register_verified,
    window,
)
from tests.scale.servers import running

WINDOW_SECONDS = 1.0  # the target is 100 ms; generous for a busy two-core CI machine
TRIALS = 20
WRITERS, WRITES_EACH, PEOPLE = 12, 10, 6
# A PostgreSQL restart: how long it stays down, and how soon after it is back every write
# must go through again.
DOWN_SECONDS, RECOVER_SECONDS = 1.5, 5.0
RESTART_COMMAND_SECONDS, START_SECONDS = 60, 30.0
T = TypeVar("T")


@dataclass
class Caller:
    headers: dict[str, str]
    user_id: int


@dataclass
class Deployment:
    a: httpx.Client
    b: httpx.Client
    database: Database

    def caller(self, email: str, role: Role = Role.MEMBER) -> Caller:
        user_id = register_verified(self.database, email, role)
        form = {"grant_type": "password", "username": email, "password": PASSWORD}
        token = self.a.post("/v1/auth/token", data=form).json()["access_token"]
        return Caller({"Authorization": f"Bearer {token}"}, user_id)


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    url = postgres_url()
    folder = tmp_path_factory.mktemp("servers")
    fresh = create_database(url, "servers")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if redis_url:
        redis.Redis.from_url(redis_url).flushdb()
    settings = instance_settings(fresh, folder)
    upgrade_to_head(settings)
    database = Database.from_settings(settings)
    with database.write_session() as session:
        apply_content(session, bundle())
    env = {
        "DATABASE_URL": fresh,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
        "DATA_DIR": str(folder),
        "MFA_REQUIRED_FOR_STAFF": "false",
        # Nothing below passes by expiry or polling: only the relay makes B fresh.
        "VIEWER_CACHE_SECONDS": "30",
        "CONTENT_POLL_SECONDS": "30",
        "WEBHOOK_WORKER": "false",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        # Every caller here signs in from 127.0.0.1, more than 20 a minute.
        "LOGIN_RATE_PER_ADDRESS": "1000/minute",
        "REDIS_URL": redis_url or "",
    }
    if not redis_url:
        del env["REDIS_URL"]
    try:
        with (
            running(env, folder) as (server_a, server_b),
            httpx.Client(base_url=server_a.url, timeout=30) as a,
            httpx.Client(base_url=server_b.url, timeout=30) as b,
        ):
            yield Deployment(a, b, database)
    finally:
        database.dispose()
        drop_database(url, "servers")


def within_window(name: str, seconds: float) -> None:
    print(f"\n{name}: B followed A in {seconds * 1000:.1f} ms")
    assert seconds < WINDOW_SECONDS


def test_a_content_edit(deployment: Deployment) -> None:
    d = deployment
    admin = d.caller("admin@example.com", Role.ADMIN)
    assert d.b.get("/v1/exercises/alpha-move").json()["name"] == "Alpha Move"
    document = d.a.get("/v1/admin/exercises/alpha-move", headers=admin.headers)
    assert document.status_code == 200, document.text
    edited = d.a.put(
        "/v1/admin/exercises/alpha-move",
        headers=admin.headers | {"If-Match": document.headers["etag"]},
        json=document.json() | {"name": "Alpha, edited"},
    )
    assert edited.status_code == 200, edited.text
    seconds = window(lambda: d.b.get("/v1/exercises/alpha-move").json()["name"] == "Alpha, edited")
    within_window("content edit", seconds)


def hint(d: Deployment, caller: Caller) -> str:
    detail = d.b.get(f"/v1/programs/{PROGRAM}", headers=caller.headers).json()
    found: str = detail["stages"][1]["exercises"][0]["exercise"]["lock"]["unlock_hint"]
    return found


def test_a_stage_change(deployment: Deployment) -> None:
    d = deployment
    member = d.caller("stage@example.com")
    assert hint(d, member).startswith("Complete stage 1")
    enrolled = d.a.post("/v1/me/enrollments", headers=member.headers, json={"program": PROGRAM})
    assert enrolled.status_code == 201, enrolled.text
    within_window("stage change", window(lambda: "log 1 more session" in hint(d, member)))


def test_a_logout(deployment: Deployment) -> None:
    d = deployment
    member = d.caller("logout@example.com")
    assert d.b.get("/v1/me", headers=member.headers).status_code == 200
    assert d.a.post("/v1/auth/logout", headers=member.headers).status_code == 204
    seconds = window(lambda: d.b.get("/v1/me", headers=member.headers).status_code == 401)
    within_window("logout", seconds)


def test_an_account_disabled(deployment: Deployment) -> None:
    d = deployment
    admin = d.caller("admin2@example.com", Role.ADMIN)
    member = d.caller("disabled@example.com")
    assert d.b.get("/v1/me", headers=member.headers).status_code == 200
    disabled = d.a.patch(
        f"/v1/admin/users/{member.user_id}", headers=admin.headers, json={"disabled": True}
    )
    assert disabled.status_code == 200, disabled.text
    seconds = window(lambda: d.b.get("/v1/me", headers=member.headers).status_code == 401)
    within_window("disable", seconds)


def enrolled(d: Deployment, email: str) -> Caller:
    caller = d.caller(email)
    response = d.a.post("/v1/me/enrollments", headers=caller.headers, json={"program": PROGRAM})
    assert response.status_code == 201, response.text
    return caller


def change_numbers(d: Deployment, user_id: int) -> tuple[list[int], int]:
    with d.database.engine.connect() as connection:
        seqs = list(
            connection.execute(
                text("SELECT seq FROM session_log WHERE user_id = :u ORDER BY seq"), {"u": user_id}
            ).scalars()
        )
        last = connection.execute(
            text("SELECT last_seq FROM session_sequence WHERE user_id = :u"), {"u": user_id}
        ).scalar_one()
    return seqs, last


def test_the_same_session_sent_to_both_is_one_change(deployment: Deployment) -> None:
    d = deployment
    person = enrolled(d, "twice@example.com")
    barrier = Barrier(2)

    def send(client: httpx.Client, key: str, sent: dict[str, Any]) -> int:
        barrier.wait(timeout=10)
        return client.put(f"/v1/me/sessions/{key}", headers=person.headers, json=sent).status_code

    with ThreadPoolExecutor(2) as pool:
        for _ in range(TRIALS):
            key, sent = str(uuid.uuid4()), session_body(PROGRAM, 1, ["alpha-move"])
            runs = [pool.submit(send, client, key, sent) for client in (d.a, d.b)]
            assert sorted(run.result(timeout=30) for run in runs) == [200, 201]
    seqs, last = change_numbers(d, person.user_id)
    assert seqs == list(range(1, TRIALS + 1))
    assert last == TRIALS


def test_writers_on_both_never_deadlock(deployment: Deployment) -> None:
    d = deployment
    people = [enrolled(d, f"writer{n}@example.com") for n in range(PEOPLE)]
    query = text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    with d.database.engine.connect() as connection:
        before = connection.execute(query).scalar_one()

    def writer(n: int) -> list[int]:
        client, chooser = (d.a, d.b)[n % 2], random.Random(n)
        statuses = []
        for _ in range(WRITES_EACH):
            person = chooser.choice(people)
            response = client.put(
                f"/v1/me/sessions/{uuid.uuid4()}",
                headers=person.headers,
                json=session_body(PROGRAM, 1, ["alpha-move"]),
            )
            statuses.append(response.status_code)
            client.get(f"/v1/programs/{PROGRAM}", headers=person.headers)  # mixed: reads too
        return statuses

    with ThreadPoolExecutor(WRITERS) as pool:
        runs = [pool.submit(writer, n) for n in range(WRITERS)]
        statuses = [status for run in runs for status in run.result(timeout=120)]
    assert statuses == [201] * (WRITERS * WRITES_EACH)
    with d.database.engine.connect() as connection:
        assert connection.execute(query).scalar_one() - before == 0
    for person in people:
        seqs, last = change_numbers(d, person.user_id)
        assert seqs == list(range(1, last + 1))


@dataclass
class Sent:
    key: str
    status: int  # 0: no HTTP answer at all
    sent_at: float
    answered_at: float
    problem_type: str | None = None
    retry_after: int | None = None


def keep_writing(client: httpx.Client, person: Caller, stop: threading.Event) -> list[Sent]:
    """Send sessions one after another until `stop`; what each was answered."""
    sent = []
    while not stop.is_set():
        key, started = str(uuid.uuid4()), time.monotonic()
        try:
            response = client.put(
                f"/v1/me/sessions/{key}",
                headers=person.headers,
                json=session_body(PROGRAM, 1, ["alpha-move"]),
            )
        except httpx.HTTPError:
            sent.append(Sent(key, 0, started, time.monotonic()))
            continue
        is_problem = response.headers.get("content-type") == "application/problem+json"
        problem = response.json() if is_problem else {}
        sent.append(
            Sent(
                key,
                response.status_code,
                started,
                time.monotonic(),
                problem.get("type"),
                int(response.headers["retry-after"]) if "retry-after" in response.headers else None,
            )
        )
    return sent


def writing_through_both(
    d: Deployment, people: list[Caller], meanwhile: Callable[[], T]
) -> tuple[list[Sent], T]:
    """A writer per person, on A and B in turn, while `meanwhile()` runs."""
    stop = threading.Event()
    with ThreadPoolExecutor(len(people)) as pool:
        runs = [
            pool.submit(keep_writing, (d.a, d.b)[n % 2], person, stop)
            for n, person in enumerate(people)
        ]
        try:
            outcome = meanwhile()
        finally:
            stop.set()
        return [item for run in runs for item in run.result(timeout=60)], outcome


def assert_none_lost(d: Deployment, sent: list[Sent]) -> None:
    acknowledged = {item.key for item in sent if item.status == 201}
    with d.database.engine.connect() as connection:
        stored = set(connection.execute(text("SELECT id FROM session_log")).scalars())
    assert acknowledged <= stored  # nothing acknowledged was lost


def assert_the_relay_still_works(d: Deployment, email: str, name: str) -> None:
    member = d.caller(email)
    assert d.b.get("/v1/me", headers=member.headers).status_code == 200
    assert d.a.post("/v1/auth/logout", headers=member.headers).status_code == 204
    seconds = window(lambda: d.b.get("/v1/me", headers=member.headers).status_code == 401)
    within_window(name, seconds)


def test_no_acknowledged_write_is_lost_when_postgresql_drops_every_connection(
    deployment: Deployment,
) -> None:
    """As a PostgreSQL restart looks to the instances: every server connection ends at once."""
    d = deployment
    people = [enrolled(d, f"restart{n}@example.com") for n in range(4)]

    def drop_every_connection() -> tuple[int, float]:
        time.sleep(1.5)
        with d.database.engine.connect() as connection:
            dropped: int = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        dropped_at = time.monotonic()
        time.sleep(2.5)
        return dropped, dropped_at

    sent, (dropped, dropped_at) = writing_through_both(d, people, drop_every_connection)
    assert dropped > 0
    assert_none_lost(d, sent)
    failed = [item.status for item in sent if item.status != 201]
    late = [
        item.status for item in sent if item.status != 201 and item.answered_at > dropped_at + 1
    ]
    print(f"\nconnections dropped: {dropped}; writes: {len(sent)}, not acknowledged: {failed}")
    assert late == []  # a second later every write goes through again
    # The relay heard through the drop too (PostgreSQL's LISTEN connection ended with it).
    assert_the_relay_still_works(d, "after-drop@example.com", "logout after the drop")


def postgres_is_ready(url: str) -> bool:
    where = make_url(url)
    host, port = where.host or "127.0.0.1", str(where.port or 5432)
    pg_isready = shutil.which("pg_isready")
    if pg_isready:
        probe = [pg_isready, "-q", "-h", host, "-p", port]
        return subprocess.run(probe, check=False, timeout=10).returncode == 0  # noqa: S603
    try:
        psycopg.connect(host=host, port=port, user=where.username, dbname="postgres").close()
    except psycopg.OperationalError:
        return False
    return True


def run_shell(command: str) -> None:
    """An operator's command (`SCALE_POSTGRES_STOP`, `SCALE_POSTGRES_START`), as written."""
    done = subprocess.run(  # noqa: S602 (the operator's own command line)
        command, shell=True, check=False, timeout=RESTART_COMMAND_SECONDS, capture_output=True
    )
    assert done.returncode == 0, f"{command!r} failed:\n{done.stdout!r}\n{done.stderr!r}"


@pytest.fixture
def restart_commands() -> tuple[str, str]:
    """The shell commands that stop and start the PostgreSQL server under test."""
    stop_command = os.environ.get("SCALE_POSTGRES_STOP")
    start_command = os.environ.get("SCALE_POSTGRES_START")
    if not stop_command or not start_command:
        pytest.skip(
            "set SCALE_POSTGRES_STOP and SCALE_POSTGRES_START to shell commands that stop and "
            "start the PostgreSQL server TEST_DATABASE_URL names (.ci/run does, for CI's)"
        )
    return stop_command, start_command


def test_no_acknowledged_write_is_lost_across_a_postgresql_restart(
    restart_commands: tuple[str, str], deployment: Deployment
) -> None:
    """PostgreSQL really stops, stays down while both instances take writes, and starts again:
    what was acknowledged is stored, what was refused was a 503 that says to try again, and
    writes go through again within seconds of its coming back."""
    stop_command, start_command = restart_commands
    d = deployment
    url = postgres_url()
    people = [enrolled(d, f"pg-restart{n}@example.com") for n in range(4)]

    def restart() -> tuple[float, float, float, float]:
        time.sleep(1.5)
        stopping_at = time.monotonic()
        run_shell(stop_command)
        down_at = time.monotonic()
        time.sleep(DOWN_SECONDS)  # writes meet a database that is not there
        starting_at = time.monotonic()
        run_shell(start_command)
        deadline = time.monotonic() + START_SECONDS
        while not postgres_is_ready(url):
            assert time.monotonic() < deadline, f"PostgreSQL not ready {START_SECONDS} s on"
            time.sleep(0.1)
        back_at = time.monotonic()
        time.sleep(RECOVER_SECONDS + 2.0)  # long enough to see writes go through again
        return stopping_at, down_at, starting_at, back_at

    sent, (stopping_at, down_at, starting_at, back_at) = writing_through_both(d, people, restart)
    assert_none_lost(d, sent)
    failed = [item for item in sent if item.status != 201]
    while_down = [
        item for item in sent if down_at <= item.sent_at <= item.answered_at < starting_at
    ]
    after = [item for item in failed if item.sent_at > back_at]
    recovered_in = max((item.answered_at for item in after), default=back_at) - back_at
    first_through = min(
        item.answered_at - starting_at
        for item in sent
        if item.status == 201 and item.sent_at >= starting_at
    )
    print(
        f"\nPostgreSQL restart: writes {len(sent)}, acknowledged {len(sent) - len(failed)}, "
        f"refused {len(failed)} {sorted(Counter(item.status for item in failed).items())}; "
        f"stop took {down_at - stopping_at:.2f} s, down {back_at - down_at:.2f} s, "
        f"{len(while_down)} sent while down; started and ready in {back_at - starting_at:.2f} s, "
        f"first write through {first_through:.2f} s after starting, "
        f"last refusal {recovered_in:.2f} s after ready"
    )
    assert while_down, "no write met the database while it was down"
    assert {item.status for item in while_down} == {503}
    for item in failed:  # refused as a moment to wait out, never as a crash or a hang-up
        assert item.status == 503, item
        assert item.problem_type == "/problems/not-ready", item
        assert (item.retry_after or 0) >= 1, item
    assert recovered_in < RECOVER_SECONDS
    assert [
        item for item in sent if item.sent_at > back_at + RECOVER_SECONDS and item.status == 201
    ]
    assert_the_relay_still_works(d, "after-pg-restart@example.com", "logout after the restart")
