"""Behind PgBouncer in transaction mode (as deploy/compose.yaml runs it): two instances serve
reads and hot session writes with DATABASE_PREPARED_STATEMENTS=false. psycopg prepares a
statement on the server after its fifth run, and the sixth then reaches another server
connection that never saw it ("prepared statement does not exist")."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app.core.migrations import upgrade_to_head
from tests.scale.conftest import FreshDatabase
from tests.scale.instances import PROGRAM, instance_settings, two_instances
from tests.scale.servers import free_port

WRITES = 10  # each hot statement runs well past psycopg's prepare threshold (5)
WRITERS = 6
BODY = {
    "program": PROGRAM,
    "stage": 1,
    "performed_at": "2026-01-01T10:00:00+00:00",
    "entries": [{"exercise": "alpha-move", "sets_done": 2, "difficulty": "easy", "pain": 1}],
}


def _as_postgres_user() -> list[str]:
    """PgBouncer refuses to run as root: run it as the `postgres` account then."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("PgBouncer cannot run as root, and runuser is missing")
    return [runuser, "-u", "postgres", "--"]


@pytest.fixture
def bouncer(fresh_postgres: FreshDatabase, tmp_path: Path) -> Iterator[str]:
    """A fresh database, migrated directly, and a URL to it through PgBouncer."""
    binary = shutil.which("pgbouncer") or shutil.which("/usr/sbin/pgbouncer")
    if binary is None:
        pytest.skip("PgBouncer is not installed")
    direct = fresh_postgres("bouncer")
    upgrade_to_head(instance_settings(direct, tmp_path))  # the migration job: straight to PG
    url = make_url(direct)
    port = free_port()
    # Not under pytest's folder: the `postgres` account must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    (folder / "users.txt").write_text(f'"{url.username}" "{url.password or ""}"\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={url.host or "127.0.0.1"} port={url.port or 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 500
ignore_startup_parameters = extra_float_digits,options
logfile = {folder / "pgbouncer.log"}
"""
    )
    command = [*_as_postgres_user(), binary, str(folder / "pgbouncer.ini")]
    if command[0] != binary:
        shutil.chown(folder, user="postgres")
        for child in folder.iterdir():
            shutil.chown(child, user="postgres")
    process = subprocess.Popen(command)  # noqa: S603 (our own command line)
    through = url.set(port=port, host="127.0.0.1").render_as_string(hide_password=False)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                plain = make_url(through).set(drivername="postgresql")
                psycopg.connect(
                    plain.render_as_string(hide_password=False), connect_timeout=2
                ).close()
                break
            except psycopg.OperationalError:
                log = folder / "pgbouncer.log"
                assert process.poll() is None, log.read_text() if log.exists() else "exited"
                assert time.monotonic() < deadline, "PgBouncer did not answer"
                time.sleep(0.2)
        yield through
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_instances_work_behind_pgbouncer_in_transaction_mode(
    bouncer: str, tmp_path: Path
) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL")
    settings = instance_settings(
        bouncer,
        tmp_path,
        database_prepared_statements=False,
        # LISTEN needs a session of its own: behind PgBouncer the relay goes through Redis.
        change_relay="redis" if redis_url else "off",
        redis_url=redis_url,
    )
    with two_instances(settings) as (a, b):
        people = [a.person(f"bounced{n}@example.com") for n in range(WRITERS)]
        for person in people:
            enrolled = a.client.post(
                "/v1/me/enrollments", headers=person.headers, json={"program": PROGRAM}
            )
            assert enrolled.status_code == 201, enrolled.text

        def writer(number: int) -> list[int]:
            instance, person = (a, b)[number % 2], people[number]
            statuses = []
            for _ in range(WRITES):
                put = instance.client.put(
                    f"/v1/me/sessions/{uuid.uuid4()}", headers=person.headers, json=BODY
                )
                statuses.append(put.status_code)
                read = instance.client.get("/v1/me/progress", headers=person.headers)
                statuses.append(read.status_code)
                catalogue = instance.client.get(f"/v1/programs/{PROGRAM}", headers=person.headers)
                statuses.append(catalogue.status_code)
            return statuses

        # Side by side, so statements run on whichever server connection PgBouncer hands out.
        with ThreadPoolExecutor(WRITERS) as pool:
            runs = [pool.submit(writer, n) for n in range(WRITERS)]
            statuses = [status for run in runs for status in run.result(timeout=120)]
        assert statuses == [201, 200, 200] * (WRITERS * WRITES)
        assert b.client.get("/readyz").status_code == 200
