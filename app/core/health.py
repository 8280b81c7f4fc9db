"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from anyio import to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from app.core.db import Database
from app.core.deps import DatabaseDep
from app.core.errors import ProblemError, error_responses
from app.core.migrations import database_revision, head_revision
from app.core.ratelimit import RATE_LIMITER, SharedState

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    database: Literal["ok"] = "ok"
    revision: str
    # Reported, not required: without Redis, rate limits count per instance and changes
    # reach the others by polling, so taking every instance out of service would be worse.
    redis: SharedState


class NotReadyError(ProblemError):
    status = 503
    type = "/problems/not-ready"


@router.get("/healthz", name="healthz", summary="The process is up", response_model=Health)
async def healthz() -> Health:
    """Answers 200 while the process runs; it checks nothing else (a liveness probe)."""
    return Health()


@router.get(
    "/readyz",
    name="readyz",
    summary="The database answers and its schema is at the latest migration; Redis's state",
    response_model=Readiness,
    responses=error_responses(503),
)
async def readyz(database: DatabaseDep, request: Request) -> Readiness:
    """503 until the database answers and its schema is at the latest migration (a readiness
    probe); says whether Redis, where one is configured, answers."""
    revision = await to_thread.run_sync(_check_database, database)
    redis = await to_thread.run_sync(RATE_LIMITER.of(request).shared_state)
    return Readiness(revision=revision, redis=redis)


def _check_database(database: Database) -> str:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = database_revision(database.engine)
    except Exception as exc:
        raise NotReadyError("The database does not answer.") from exc
    head = head_revision()
    if current != head:
        raise NotReadyError(f"The database is at migration {current}; the code expects {head}.")
    return current or ""
