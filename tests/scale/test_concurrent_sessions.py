"""Session writes through two instances at once, on PostgreSQL.

The same session UUID sent to both (a phone retrying through another instance) is one
session with one change number, as on one instance; and people writing through both
instances never deadlock on their change counters (`session_sequence`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import pytest
from sqlalchemy import text

from app.core.models import utcnow
from tests.conftest import Person
from tests.scale.conftest import FreshDatabase
from tests.scale.instances import PROGRAM, Instance, instance_settings, two_instances

TRIALS = 30
PEOPLE = 8
WRITERS = 16
WRITES_EACH = 12


@pytest.fixture
def pair(fresh_postgres: FreshDatabase, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    settings = instance_settings(fresh_postgres("sessions"), tmp_path, change_relay="postgres")
    with two_instances(settings) as instances:
        yield instances


def body() -> dict[str, Any]:
    return {
        "program": PROGRAM,
        "stage": 1,
        "performed_at": utcnow().isoformat(),
        "entries": [{"exercise": "alpha-move", "sets_done": 2, "difficulty": "easy", "pain": 1}],
    }


def enrolled(a: Instance, name: str) -> Person:
    person = a.person(f"{name}@example.com")
    response = a.client.post(
        "/v1/me/enrollments", headers=person.headers, json={"program": PROGRAM}
    )
    assert response.status_code == 201, response.text
    return person


def change_numbers(instance: Instance, user_id: int) -> tuple[list[int], int]:
    with instance.database.engine.connect() as connection:
        seqs = connection.execute(
            text("SELECT seq FROM session_log WHERE user_id = :u ORDER BY seq"), {"u": user_id}
        ).scalars()
        last = connection.execute(
            text("SELECT last_seq FROM session_sequence WHERE user_id = :u"), {"u": user_id}
        ).scalar_one()
        return list(seqs), last


def test_the_same_session_sent_to_both_instances_is_one_change(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    person = enrolled(a, "twice")
    barrier = Barrier(2)

    def send(instance: Instance, key: str, sent: dict[str, Any]) -> int:
        barrier.wait(timeout=10)
        response = instance.client.put(f"/v1/me/sessions/{key}", headers=person.headers, json=sent)
        return response.status_code

    statuses = []
    with ThreadPoolExecutor(2) as pool:
        for _ in range(TRIALS):
            key, sent = str(uuid.uuid4()), body()
            runs = [pool.submit(send, instance, key, sent) for instance in (a, b)]
            statuses.append(sorted(run.result(timeout=30) for run in runs))
    assert statuses == [[200, 201]] * TRIALS  # one created, one found unchanged
    seqs, last = change_numbers(a, person.id)
    assert seqs == list(range(1, TRIALS + 1))  # one change number each, none skipped
    assert last == TRIALS


def test_people_writing_through_both_instances_never_deadlock(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    people = [enrolled(a, f"writer{n}") for n in range(PEOPLE)]
    database = a.database.engine.url.database
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = :name"
    with a.database.engine.connect() as connection:
        before = connection.execute(text(deadlocks), {"name": database}).scalar_one()

    def writer(n: int) -> list[int]:
        instance = (a, b)[n % 2]
        chooser = random.Random(n)
        statuses = []
        for _ in range(WRITES_EACH):
            person = chooser.choice(people)
            key = str(uuid.uuid4())
            response = instance.client.put(
                f"/v1/me/sessions/{key}", headers=person.headers, json=body()
            )
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(WRITERS) as pool:
        results = [
            run.result(timeout=120) for run in [pool.submit(writer, n) for n in range(WRITERS)]
        ]
    assert all(status == 201 for statuses in results for status in statuses)
    with a.database.engine.connect() as connection:
        after = connection.execute(text(deadlocks), {"name": database}).scalar_one()
    assert after - before == 0
    for person in people:
        seqs, last = change_numbers(a, person.id)
        assert seqs == list(range(1, last + 1))
