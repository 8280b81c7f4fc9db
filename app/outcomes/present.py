"""Responses and due questionnaires as the API shows them."""

from __future__ import annotations

from app.core.models import as_utc
from app.outcomes.models import QuestionnaireSchedule
from app.outcomes.responses import Scored
from app.outcomes.schedules import Due, ScheduleRow
from app.outcomes.schemas import (
    ChangeOut,
    DueQuestionnaire,
    ResponseOut,
    ScaleScore,
    ScheduleOut,
)


def response_out(scored: Scored) -> ResponseOut:
    response, change = scored.response, scored.change
    return ResponseOut(
        id=response.id,
        instrument=scored.instrument.slug,
        version=scored.instrument.version,
        program=scored.program,
        schedule=response.schedule_id,
        answered_at=as_utc(response.answered_at),
        answers=response.answers,
        scores={key: ScaleScore.model_validate(value) for key, value in response.scores.items()},
        change=None
        if change is None
        else ChangeOut(
            baseline=change.baseline,
            change=change.change,
            improvement=change.improvement,
            passes_mcid=change.passes_mcid,
        ),
    )


def schedule_out(row: ScheduleRow) -> ScheduleOut:
    schedule: QuestionnaireSchedule = row.schedule
    assert schedule.id is not None
    return ScheduleOut(
        id=schedule.id,
        instrument=schedule.instrument_slug,
        program=row.program,
        kind=schedule.kind,
        every_days=schedule.every_days,
        created_at=as_utc(schedule.created_at),
    )


def due_out(due: Due) -> DueQuestionnaire:
    assert due.schedule.id is not None
    return DueQuestionnaire(
        schedule=due.schedule.id,
        instrument=due.instrument.slug,
        version=due.instrument.version,
        title=due.instrument.title,
        program=due.program,
        kind=due.schedule.kind,
        reason=due.reason,
        definition=due.instrument.definition,
    )
