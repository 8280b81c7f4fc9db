"""Evaluating a stage reads only what it needs, whatever the length of a person's history.

Two things must hold for a person with 10,000 logged sessions as for one with 10:
the same statements (no query per session), and each of them cheap (an index
seek per exercise, not a scan of the history). The second is checked with a
time budget per statement, enforced by the database, so a slow plan fails
quickly instead of running for minutes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, insert
from sqlalchemy.exc import OperationalError

from app.catalog.deps import CATALOG
from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.core.db import Database
from app.progress import evaluation
from app.progress.evaluation import EnrollmentState
from app.progress.models import SessionEntry, SessionLog, SessionSequence
from app.progress.sessions import ratings
from tests.conftest import Person, PersonFactory
from tests.progress.conftest import backdate, enroll

pytestmark = pytest.mark.usefixtures("seeded")
WHOLE_LEG = "whole-leg-rehabilitation"
LIGHT, HEAVY = 10, 10_000
# Generous: a seek or a scan of 60,000 index entries takes milliseconds.
STATEMENT_BUDGET_SECONDS = 3.0
STAGE_AGE_DAYS = 40
MAX_STATEMENTS = 12


@contextmanager
def recording(database: Database) -> Iterator[list[str]]:
    """Every SQL statement sent on the engine, as text with placeholders for parameters."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def snapshot_of(client: TestClient) -> CatalogSnapshot:
    app = client.app
    assert isinstance(app, FastAPI)
    cache = CATALOG.of_app(app)
    return cache.refresh()


def write_history(
    database: Database, person: Person, program: ProgramEntry, count: int, now: datetime
) -> None:
    """`count` stage-1 sessions of every stage-1 exercise, spread over the last 30 days.

    Every rating is `hard` except the newest session's, which are all `easy`; so
    the rule is met only if the newest rating of each exercise is the one read.
    """
    stage = program.stages[0]
    exercise_ids = [item.exercise.id for item in stage.items]
    oldest = now - timedelta(days=30)
    step = (timedelta(days=30) - timedelta(hours=1)) / count
    logs: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for index in range(count):
        session_id = str(uuid.uuid4())
        performed_at = oldest + step * index
        newest = index == count - 1
        logs.append(
            {
                "id": session_id,
                "user_id": person.id,
                "program_id": program.id,
                "stage_position": stage.position,
                "performed_at": performed_at,
                "note": None,
                "seq": index + 1,
                "created_at": performed_at,
                "updated_at": performed_at,
                "deleted_at": None,
            }
        )
        entries.extend(
            {
                "session_id": session_id,
                "user_id": person.id,
                "program_id": program.id,
                "stage_position": stage.position,
                "performed_at": performed_at,
                "exercise_id": exercise_id,
                "position": position,
                "sets_done": 2,
                "reps_done": 10,
                "hold_seconds_done": None,
                "difficulty": "easy" if newest else "hard",
                "pain": 1,
                "note": None,
            }
            for position, exercise_id in enumerate(exercise_ids, start=1)
        )
    with database.write_session() as session:
        session.execute(insert(SessionLog), logs)
        session.execute(insert(SessionEntry), entries)
        # Bulk inserts skip the write path: bring its kept newest ratings up to date.
        ratings.refresh_ratings(
            session, person.id, {(program.id, stage.position, e) for e in exercise_ids}
        )
        session.execute(insert(SessionSequence), [{"user_id": person.id, "last_seq": count}])


class OverBudgetError(AssertionError):
    """A statement ran past its time budget (the database cancelled it)."""


@contextmanager
def statement_budget(database: Database, seconds: float) -> Iterator[None]:
    """Have the database cancel any statement that runs longer than `seconds`."""
    sqlite = database.is_sqlite
    # SQLite calls the progress handler every N VM steps; it outlives this block on
    # pooled connections, so it reads a deadline that is infinite once we are done.
    deadline = [float("inf")]

    def over() -> bool:
        return time.monotonic() > deadline[0]

    def limit(_conn: Any, cursor: Any, *_: Any) -> None:
        if sqlite:
            deadline[0] = time.monotonic() + seconds
            cursor.connection.set_progress_handler(over, 10_000)
        else:
            cursor.connection.execute(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")

    def unlimit(*_: Any) -> None:
        deadline[0] = float("inf")

    event.listen(database.engine, "before_cursor_execute", limit)
    event.listen(database.engine, "after_cursor_execute", unlimit)
    try:
        yield
    except OperationalError as exc:
        if any(word in str(exc.orig) for word in ("interrupted", "statement timeout")):
            first_line = (exc.statement or "").split("\n")[0]
            raise OverBudgetError(f"over {seconds}s: {first_line} ...") from exc
        raise
    finally:
        deadline[0] = float("inf")
        event.remove(database.engine, "before_cursor_execute", limit)
        event.remove(database.engine, "after_cursor_execute", unlimit)


def statements_of_request(
    client: TestClient, database: Database, person: Person, path: str
) -> tuple[list[str], Any]:
    client.get(path, headers=person.headers)  # warm: the catalogue snapshot is loaded
    with recording(database) as statements:
        response = client.get(path, headers=person.headers)
    assert response.status_code == 200, response.text
    return statements, response.json()


def statements_of_state(
    database: Database, person: Person, program: ProgramEntry, now: datetime
) -> tuple[list[str], EnrollmentState]:
    with database.read_session() as session, recording(database) as statements:
        state = evaluation.enrollment_state(session, user_id=person.id, program=program, now=now)
    return statements, state


def criteria(detail: dict[str, Any]) -> dict[str, tuple[bool, int]]:
    evaluation = detail["evaluation"]
    return {c["criterion"]: (c["met"], c["current"]) for c in evaluation["criteria"]}


def test_evaluating_10000_sessions_runs_the_same_cheap_statements_as_10(
    client: TestClient, database: Database, make_person: PersonFactory
) -> None:
    now = datetime.now(UTC)
    program = snapshot_of(client).program_by_slug[WHOLE_LEG]
    light, heavy = make_person(), make_person()
    for person, count in ((light, LIGHT), (heavy, HEAVY)):
        enroll(client, person, WHOLE_LEG)
        backdate(database, person, WHOLE_LEG, STAGE_AGE_DAYS)
        write_history(database, person, program, count, now)
    path = f"/v1/me/enrollments/{WHOLE_LEG}"

    with statement_budget(database, STATEMENT_BUDGET_SECONDS):
        light_sql, light_detail = statements_of_request(client, database, light, path)
        heavy_sql, heavy_detail = statements_of_request(client, database, heavy, path)
        light_state_sql, light_state = statements_of_state(database, light, program, now)
        heavy_state_sql, heavy_state = statements_of_state(database, heavy, program, now)
        light_list_sql, _ = statements_of_request(client, database, light, "/v1/me/enrollments")
        heavy_list_sql, _ = statements_of_request(client, database, heavy, "/v1/me/enrollments")

    # The whole history was seen (counted, and the newest rating of each exercise picked) ...
    for detail, count in ((light_detail, LIGHT), (heavy_detail, HEAVY)):
        assert criteria(detail) == {
            "min_days": (True, STAGE_AGE_DAYS),
            "min_sessions": (True, count),
            "all_exercises_easy": (True, len(program.stages[0].items)),
            "pain_below_limit": (True, 1),
        }
    for state, count in ((light_state, LIGHT), (heavy_state, HEAVY)):
        assert state.evaluation is not None
        assert state.evaluation.can_advance
        assert [r.current for r in state.evaluation.criteria][1] == count
    # ... by the very same statements, however long it is.
    assert heavy_sql == light_sql
    assert len(light_sql) <= MAX_STATEMENTS
    assert heavy_state_sql == light_state_sql
    assert 1 <= len(light_state_sql) <= 5
    assert heavy_list_sql == light_list_sql
