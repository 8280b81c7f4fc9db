"""A person's questionnaires: what is due, answering, and their responses with the change."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request, Response, status

from app.catalog.deps import CatalogDep
from app.catalog.snapshot import CatalogSnapshot
from app.core.db import Database
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import error_responses
from app.core.http_cache import PRIVATE
from app.core.models import as_utc, utcnow
from app.core.pagination import PageDep
from app.core.schemas import TimeZoneQuery
from app.core.screens import person_screen
from app.core.state import StateKey
from app.core.token_cache import TokenCache
from app.identity.deps import CurrentUserDep
from app.outcomes import reminders, responses, schedules
from app.outcomes.models import Reminder
from app.outcomes.present import due_out, response_out
from app.outcomes.schemas import (
    DueList,
    ReminderIn,
    ReminderOut,
    ResponseIn,
    ResponseOut,
    ResponsePage,
    TodayOut,
)
from app.outcomes.today import today_view
from app.progress.scope import OWN

router = APIRouter(prefix="/v1/me", tags=["outcomes"])
# The home screen is opened often and in bursts: a screen is kept for a couple of seconds
# and forgotten at once when the person's standing changes (a session, an answer, a
# questionnaire scheduled, a stage; `app.core.changes`).
TODAY_SCREENS = StateKey[TokenCache[bytes]]("today_screens")
ResponseIdPath = Annotated[UUID, Path(description="The client-generated UUID of the response.")]
ReminderIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The reminder's id.")]


@router.get(
    "/questionnaires/due",
    name="list_due_questionnaires",
    response_model=DueList,
    responses=error_responses(401),
)
def list_due(user: CurrentUserDep, session: ReadSessionDep, response: Response) -> DueList:
    """The questionnaires to answer now, each with its definition (the items to show)."""
    assert user.id is not None
    response.headers["Cache-Control"] = PRIVATE
    found = schedules.due(session, user_id=user.id, now=utcnow())
    return DueList(items=[due_out(due) for due in found])


@router.put(
    "/responses/{response_id}",
    name="put_response",
    summary="Answer a due questionnaire by your own UUID: 201 stored, 200 the same again",
    response_model=ResponseOut,
    responses={
        201: {"description": "Created", "model": ResponseOut},
        **error_responses(401, 404, 409, 422),
    },
)
def put_response(
    response_id: ResponseIdPath,
    body: ResponseIn,
    user: CurrentUserDep,
    session: SessionDep,
    response: Response,
) -> ResponseOut:
    """Scored by the server with the instrument's current version. Sending the same body
    again answers the same (200); other answers under the same id are refused (409). Every
    required item must be answered: the 422 names those that are not."""
    assert user.id is not None
    scored, created = responses.put_response(
        session, user_id=user.id, response_id=str(response_id), body=body, now=utcnow()
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/me/responses/{response_id}"
    return response_out(scored)


@router.get(
    "/responses",
    name="list_responses",
    response_model=ResponsePage,
    responses=error_responses(401, 422),
)
def list_responses(
    user: CurrentUserDep, session: ReadSessionDep, page: PageDep, response: Response
) -> ResponsePage:
    """Your responses, newest first, each with its scores and the change from your first."""
    assert user.id is not None
    response.headers["Cache-Control"] = PRIVATE
    found, total = responses.list_responses(
        session, user_id=user.id, scope=OWN, limit=page.limit, offset=page.offset
    )
    return ResponsePage(
        items=[response_out(scored) for scored in found],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/today",
    name="get_today",
    summary="Today: each program's exercises with what is done, planned day, due, streak",
    response_model=TodayOut,
    responses=error_responses(401, 422),
)
async def get_today(
    request: Request,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    tz: TimeZoneQuery = "UTC",
) -> Response:
    """The app's home screen, one request: per program in progress, the stage's exercises
    with dosage and today's sets and times done, whether today is planned, the
    questionnaires due; and the streak."""
    assert user.id is not None
    user_id = user.id
    return await person_screen(
        request,
        TODAY_SCREENS,
        user_id=user_id,
        content_version=snapshot.version,
        tz=tz,
        render=lambda db, zone: _today_body(db, user_id, snapshot, zone),
    )


def _today_body(db: Database, user_id: int, snapshot: CatalogSnapshot, zone: ZoneInfo) -> bytes:
    with db.read_session() as session:
        view = today_view(session, user_id=user_id, snapshot=snapshot, now=utcnow(), zone=zone)
    return TodayOut.model_validate(view).model_dump_json().encode()


def _reminder_out(reminder: Reminder) -> ReminderOut:
    assert reminder.id is not None
    return ReminderOut(
        id=reminder.id,
        local_time=reminder.local_time,
        weekdays=reminder.weekdays,
        timezone=reminder.timezone,
        next_due_at=as_utc(reminder.next_due_at),
    )


@router.get(
    "/reminders",
    name="list_reminders",
    response_model=list[ReminderOut],
    responses=error_responses(401),
)
def list_reminders(
    user: CurrentUserDep, session: ReadSessionDep, response: Response
) -> list[ReminderOut]:
    """Your reminders, each with when it next comes."""
    assert user.id is not None
    response.headers["Cache-Control"] = PRIVATE
    return [_reminder_out(reminder) for reminder in reminders.of_person(session, user.id)]


@router.post(
    "/reminders",
    name="create_reminder",
    status_code=status.HTTP_201_CREATED,
    response_model=ReminderOut,
    responses=error_responses(401, 422),
)
def create_reminder(body: ReminderIn, user: CurrentUserDep, session: SessionDep) -> ReminderOut:
    """A reminder at a local time on some weekdays (at most 10). It comes once at that time
    in your time zone, clock changes included, and not on a day you already exercised."""
    assert user.id is not None
    return _reminder_out(reminders.create(session, user_id=user.id, body=body, now=utcnow()))


@router.delete(
    "/reminders/{reminder_id}",
    name="delete_reminder",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
def delete_reminder(reminder_id: ReminderIdPath, user: CurrentUserDep, session: SessionDep) -> None:
    """Stop a reminder."""
    assert user.id is not None
    reminders.delete(session, user_id=user.id, reminder_id=reminder_id)
