"""Helpers for progression tests: enrolling, logging, and moving the clock of a stage."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from app.catalog.models import Program
from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.core.db import Database
from app.core.group_commit import StagedWork
from app.progress.models import Enrollment
from app.progress.schemas import SessionIn
from app.progress.sessions import write
from tests.conftest import Person
from tests.progress.tiny import NOW, PROGRAM, body, tiny_catalogue


def now() -> datetime:
    return datetime.now(UTC)


def enroll(client: TestClient, person: Person, program: str) -> dict[str, Any]:
    response = client.post("/v1/me/enrollments", headers=person.headers, json={"program": program})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def stage_slugs(client: TestClient, program: str, position: int) -> list[str]:
    detail = client.get(f"/v1/programs/{program}").json()
    return [item["exercise"]["slug"] for item in detail["stages"][position - 1]["exercises"]]


def session_body(
    program: str,
    stage: int,
    exercises: list[str],
    *,
    difficulty: str = "easy",
    pain: int = 0,
    performed_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "program": program,
        "stage": stage,
        "performed_at": (performed_at or now()).isoformat(),
        "entries": [
            {
                "exercise": slug,
                "sets_done": 2,
                "reps_done": 10,
                "difficulty": difficulty,
                "pain": pain,
            }
            for slug in exercises
        ],
    }


def log(
    client: TestClient, person: Person, body: dict[str, Any], session_id: str | None = None
) -> Any:
    return client.put(
        f"/v1/me/sessions/{session_id or uuid.uuid4()}", headers=person.headers, json=body
    )


def backdate(database: Database, person: Person, program: str, days: float) -> None:
    """Pretend the person reached their current stage `days` ago."""
    with database.write_session() as session:
        program_id = session.exec(select(Program.id).where(Program.slug == program)).one()
        session.execute(
            update(Enrollment)
            .where(col(Enrollment.user_id) == person.id, col(Enrollment.program_id) == program_id)
            .values(stage_started_at=now() - timedelta(days=days))
        )


Backdate = Callable[[Person, str, float], None]


@pytest.fixture
def set_stage_age(database: Database) -> Backdate:
    return lambda person, program, days: backdate(database, person, program, days)


@pytest.fixture
def snapshot(database: Database, client: TestClient) -> CatalogSnapshot:
    """The catalogue with the tiny program (`tests.progress.tiny`) in it."""
    return tiny_catalogue(database, client)


@pytest.fixture
def tiny(snapshot: CatalogSnapshot) -> ProgramEntry:
    return snapshot.program_by_slug[PROGRAM]


PutSession = Callable[..., StagedWork[write.Written]]


@pytest.fixture
def put(snapshot: CatalogSnapshot) -> PutSession:
    """The route's write: one person's session by its UUID (the tiny program's stage 1
    unless a body is given), as a staged write."""

    def staged(
        person: Person, session_id: uuid.UUID, the_body: SessionIn | None = None
    ) -> StagedWork[write.Written]:
        return lambda session: write.put_session(
            session,
            user_id=person.id,
            session_id=session_id,
            body=the_body or body(),
            snapshot=snapshot,
            now=NOW,
        )

    return staged
