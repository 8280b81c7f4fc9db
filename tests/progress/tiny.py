"""A three-stage program small enough to write sessions of by hand, and its helpers.

For tests that call the session service directly, as one request's worker would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.authoring.content import apply_content
from app.catalog.deps import CATALOG
from app.catalog.schemas import ContentBundle
from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.core.db import Database
from app.progress import service
from app.progress.schemas import EntryIn, Rating, SessionIn
from tests.conftest import Person
from tests.factories import condition, exercise, program

PROGRAM = "tiny-knee"
STAGES = [["ex-a", "ex-b"], ["ex-c", "ex-d"], ["ex-e", "ex-f"]]
NOW = datetime.now(UTC).replace(microsecond=0)


def tiny_catalogue(database: Database, client: TestClient) -> CatalogSnapshot:
    """A three-stage program (rule: 7 days, 3 sessions, every exercise easy), as a snapshot."""
    bundle = ContentBundle.model_validate(
        {
            "conditions": [condition("knee-ache")],
            "exercises": [exercise(slug) for stage in STAGES for slug in stage],
            "programs": [program(PROGRAM, ["knee-ache"], STAGES)],
        }
    )
    with database.write_session() as session:
        apply_content(session, bundle)
    app = client.app
    assert isinstance(app, FastAPI)
    cache = CATALOG.of_app(app)
    return cache.refresh()


def body(
    stage: int = 1, *, performed_at: datetime | None = None, difficulty: Rating = "easy"
) -> SessionIn:
    return SessionIn(
        program=PROGRAM,
        stage=stage,
        performed_at=performed_at or NOW - timedelta(hours=1),
        entries=[
            EntryIn(exercise=slug, sets_done=2, reps_done=10, difficulty=difficulty, pain=0)
            for slug in STAGES[stage - 1]
        ],
    )


def enroll(database: Database, person: Person, entry: ProgramEntry, *, days_ago: float = 0) -> None:
    with database.write_session() as session:
        service.enroll(
            session, user_id=person.id, program=entry, now=NOW - timedelta(days=days_ago)
        )
