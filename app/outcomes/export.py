"""A person's questionnaires and responses, for the export of everything held about them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.catalog.models import Program
from app.core.models import as_utc
from app.outcomes.models import Instrument, OutcomeResponse, QuestionnaireSchedule, Reminder
from app.outcomes.schemas import (
    ExportedQuestionnaire,
    ExportedReminder,
    ExportedResponse,
    ScaleScore,
)


def questionnaires_of(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(QuestionnaireSchedule, Program.slug)
        .join(Program, col(Program.id) == QuestionnaireSchedule.program_id)
        .where(col(QuestionnaireSchedule.user_id) == user_id)
        .order_by(col(QuestionnaireSchedule.id))
    ).all()
    return [
        ExportedQuestionnaire(
            instrument=schedule.instrument_slug,
            program=slug,
            kind=schedule.kind,
            every_days=schedule.every_days,
            clinic_id=schedule.clinic_id,
            created_at=as_utc(schedule.created_at),
        ).model_dump(mode="json")
        for schedule, slug in rows
    ]


def responses_of(session: Session, user_id: int) -> list[dict[str, Any]]:
    """Every response, oldest first (a person answers a handful a month)."""
    rows = session.exec(
        select(OutcomeResponse, Instrument.version, Program.slug)
        .join(Instrument, col(Instrument.id) == OutcomeResponse.instrument_id)
        .join(Program, col(Program.id) == OutcomeResponse.program_id)
        .where(col(OutcomeResponse.user_id) == user_id)
        .order_by(col(OutcomeResponse.answered_at), col(OutcomeResponse.id))
    ).all()
    return [
        ExportedResponse(
            id=response.id,
            instrument=response.instrument_slug,
            version=version,
            program=slug,
            answered_at=as_utc(response.answered_at),
            answers=response.answers,
            scores={k: ScaleScore.model_validate(v) for k, v in response.scores.items()},
        ).model_dump(mode="json")
        for response, version, slug in rows
    ]


def reminders_of(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Reminder).where(col(Reminder.user_id) == user_id).order_by(col(Reminder.id))
    ).all()
    return [
        ExportedReminder(
            local_time=reminder.local_time,
            weekdays=reminder.weekdays,
            timezone=reminder.timezone,
            created_at=as_utc(reminder.created_at),
        ).model_dump(mode="json")
        for reminder in rows
    ]
