"""A person's progress report, per program, in their time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from app.catalog.deps import CatalogDep
from app.catalog.snapshot import CatalogSnapshot
from app.core.db import Database
from app.core.errors import error_responses
from app.core.models import utcnow
from app.core.schemas import TimeZoneQuery
from app.core.screens import person_screen
from app.core.state import StateKey
from app.core.token_cache import TokenCache
from app.identity.deps import CurrentUserDep
from app.progress import report
from app.progress.schemas import (
    ProgressOut,
)
from app.progress.scope import OWN

router = APIRouter(prefix="/v1/me")

# Progress screens are refreshed in bursts: a report is kept for a couple of seconds and
# forgotten at once when the person's standing changes (`app.core.changes`).
PROGRESS_REPORTS = StateKey[TokenCache[bytes]]("progress_reports")


@router.get(
    "/progress",
    tags=["progress"],
    name="get_progress",
    summary="Each program's stage, adherence, 14-day pain trend and streak",
    response_model=ProgressOut,
    responses=error_responses(401, 422),
)
async def get_progress(
    request: Request,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    tz: TimeZoneQuery = "UTC",
) -> Response:
    """Per program: the stage, sessions in the last 7 days against the prescription, a 14-day
    pain trend and the current streak, in your time zone (`tz`, an IANA name)."""
    assert user.id is not None
    user_id = user.id
    return await person_screen(
        request,
        PROGRESS_REPORTS,
        user_id=user_id,
        content_version=snapshot.version,
        tz=tz,
        render=lambda db, zone: _progress_body(db, user_id, snapshot, tz, zone),
    )


def _progress_body(
    db: Database, user_id: int, snapshot: CatalogSnapshot, tz: str, zone: ZoneInfo
) -> bytes:
    now = utcnow()
    with db.read_session() as session:
        programs = report.progress_report(
            session, user_id=user_id, snapshot=snapshot, now=now, zone=zone, scope=OWN
        )
    progress = ProgressOut.model_validate({"programs": programs, "as_of": now, "timezone": tz})
    return progress.model_dump_json().encode()
