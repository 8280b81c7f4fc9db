"""The one writer of responses: answers checked against the instrument, scored by the server.

A response is keyed by the app's own UUID, so an app that retries (offline,
a dropped connection) sends the same PUT again and gets the same answer
without a second row. A stored response never changes: it keeps the version
it answered and that version's scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.catalog.models import Program
from app.clinics.events import emit
from app.clinics.models import EventType
from app.core.changes import StandingChanged, record
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.models import as_utc
from app.outcomes import schedules
from app.outcomes.definition import InstrumentDefinition
from app.outcomes.instruments import definition_of, latest_published
from app.outcomes.models import Instrument, OutcomeResponse
from app.outcomes.schemas import ResponseIn
from app.outcomes.scoring import TOTAL, Change, compare, score
from app.progress.scope import ProgramScope


@dataclass(frozen=True, slots=True)
class Scored:
    """A stored response with what a reader needs: its version, program and change."""

    response: OutcomeResponse
    instrument: Instrument
    program: str
    change: Change | None


def _answers_of(body: ResponseIn) -> list[dict[str, Any]]:
    return [answer.model_dump(exclude_none=True) for answer in body.answers]


def check_answers(definition: InstrumentDefinition, body: ResponseIn) -> dict[str, int]:
    """The answers by item, or a 422 naming every item that is wrong or missing."""
    errors: list[dict[str, str]] = []
    values: dict[str, int] = {}

    def refuse(pointer: str, detail: str) -> None:
        errors.append({"pointer": pointer, "detail": detail, "type": "value_error"})

    for index, answer in enumerate(body.answers):
        item = definition.item(answer.item)
        where = f"body.answers.{index}"
        if item is None:
            refuse(f"{where}.item", f"No item {answer.item!r} in this questionnaire.")
        elif answer.item in values:
            refuse(f"{where}.item", f"Item {answer.item!r} is answered twice.")
        elif answer.value not in {option.value for option in item.options}:
            allowed = ", ".join(str(option.value) for option in item.options)
            refuse(f"{where}.value", f"Item {answer.item!r} takes one of {allowed}.")
        elif item.named_by_person and answer.label is None:
            refuse(f"{where}.label", f"Item {answer.item!r} needs the activity's name.")
        elif not item.named_by_person and answer.label is not None:
            refuse(f"{where}.label", f"Item {answer.item!r} takes no label.")
        else:
            values[answer.item] = answer.value
    sent = {answer.item for answer in body.answers}
    missing = [item.key for item in definition.items if item.required and item.key not in sent]
    if missing:
        refuse("body.answers", f"Unanswered: {', '.join(missing)}.")
    if errors:
        raise InvalidInputError(
            f"The answers have {len(errors)} problem(s); see `errors`.", extra={"errors": errors}
        )
    return values


def put_response(
    session: Session, *, user_id: int, response_id: str, body: ResponseIn, now: datetime
) -> tuple[Scored, bool]:
    """Store and score a response (True), or find the identical one stored before (False)."""
    existing = session.get(OutcomeResponse, response_id)
    if existing is not None:
        return _stored_before(session, existing, user_id, body), False
    schedule = schedules.get_own(session, user_id=user_id, schedule_id=body.schedule)
    instrument = latest_published(session, schedule.instrument_slug)
    if instrument is None or instrument.id is None:
        raise NotFoundError("No such questionnaire.")
    definition = definition_of(instrument)
    scores = score(definition, check_answers(definition, body))
    response = OutcomeResponse(
        id=response_id,
        user_id=user_id,
        program_id=schedule.program_id,
        schedule_id=schedule.id,
        instrument_id=instrument.id,
        instrument_slug=instrument.slug,
        answered_at=body.answered_at,
        answers=_answers_of(body),
        scores={
            key: {"value": found.value, "answered": found.answered, "of": found.of}
            for key, found in scores.items()
        },
        total=scores[TOTAL].value,
        created_at=now,
    )
    try:
        # A savepoint: when another device stored the same id a moment ago (PostgreSQL
        # makes this insert wait for it, then refuses it), answer as for a retry.
        with session.begin_nested():
            session.add(response)
    except IntegrityError:
        existing = session.get(OutcomeResponse, response_id)
        if existing is None:
            raise
        return _stored_before(session, existing, user_id, body), False
    scored = _scored(session, response)
    _announce(session, scored, now)
    record(session, StandingChanged(user_id))  # what is due, on the home screen
    return scored, True


def _stored_before(
    session: Session, existing: OutcomeResponse, user_id: int, body: ResponseIn
) -> Scored:
    """The response stored under this id before: the same answers again, or a refusal."""
    if existing.user_id != user_id:
        raise NotFoundError("No such response.")  # another person's UUID: say no more
    same = (
        existing.schedule_id == body.schedule
        and as_utc(existing.answered_at) == body.answered_at
        and existing.answers == _answers_of(body)
    )
    if not same:
        raise ConflictError("This response was recorded with other answers; use a new id.")
    return _scored(session, existing)


def _announce(session: Session, scored: Scored, now: datetime) -> None:
    """`outcome.recorded` for the patient's linked clinics (a clinic program's: that clinic)."""
    response = scored.response
    if response.total is None:
        return
    owner = session.get(Program, response.program_id)
    change = scored.change
    emit(
        session,
        patient_id=response.user_id,
        event_type=EventType.OUTCOME_RECORDED,
        data={
            "response_id": response.id,
            "instrument": scored.instrument.slug,
            "version": scored.instrument.version,
            "program": scored.program,
            "answered_at": as_utc(response.answered_at).isoformat(),
            "score": response.total,
            "change": None if change is None else change.change,
            "passes_mcid": None if change is None else change.passes_mcid,
        },
        clinic_id=None if owner is None else owner.clinic_id,
        now=now,
    )


def _baseline(session: Session, response: OutcomeResponse) -> OutcomeResponse | None:
    """The person's first scored response to the same instrument in the same program."""
    return session.exec(
        select(OutcomeResponse)
        .where(
            col(OutcomeResponse.user_id) == response.user_id,
            col(OutcomeResponse.program_id) == response.program_id,
            col(OutcomeResponse.instrument_slug) == response.instrument_slug,
            col(OutcomeResponse.total).is_not(None),
        )
        .order_by(col(OutcomeResponse.answered_at), col(OutcomeResponse.created_at))
        .limit(1)
    ).first()


def _change(
    baseline: OutcomeResponse | None, response: OutcomeResponse, instrument: Instrument
) -> Change | None:
    if baseline is None or baseline.id == response.id or response.total is None:
        return None
    assert baseline.total is not None
    scoring = definition_of(instrument).scoring
    return compare(
        baseline=baseline.total, current=response.total, better=scoring.better, mcid=scoring.mcid
    )


def _scored(session: Session, response: OutcomeResponse) -> Scored:
    instrument = session.get(Instrument, response.instrument_id)
    program = session.get(Program, response.program_id)
    assert instrument is not None
    assert program is not None
    change = _change(_baseline(session, response), response, instrument)
    return Scored(response, instrument, program.slug, change)


def list_responses(
    session: Session, *, user_id: int, scope: ProgramScope, limit: int, offset: int
) -> tuple[list[Scored], int]:
    """A person's responses as `scope` may see them, newest first, each with its change."""
    visible = (
        col(OutcomeResponse.user_id) == user_id,
        scope.rows(col(OutcomeResponse.program_id)),
    )
    rows = session.exec(
        select(OutcomeResponse, Instrument, Program.slug)
        .join(Instrument, col(Instrument.id) == OutcomeResponse.instrument_id)
        .join(Program, col(Program.id) == OutcomeResponse.program_id)
        .where(*visible)
        .order_by(col(OutcomeResponse.answered_at).desc(), col(OutcomeResponse.id))
        .offset(offset)
        .limit(limit)
    ).all()
    total = session.exec(select(func.count()).select_from(OutcomeResponse).where(*visible)).one()
    baselines = _baselines(session, user_id=user_id, scope=scope)
    return [
        Scored(
            response,
            instrument,
            program,
            _change(
                baselines.get((response.program_id, response.instrument_slug)), response, instrument
            ),
        )
        for response, instrument, program in rows
    ], total


def _baselines(
    session: Session, *, user_id: int, scope: ProgramScope
) -> dict[tuple[int, str], OutcomeResponse]:
    """The first scored response per program and instrument, in one query."""
    found: dict[tuple[int, str], OutcomeResponse] = {}
    for response in session.exec(
        select(OutcomeResponse)
        .where(
            col(OutcomeResponse.user_id) == user_id,
            col(OutcomeResponse.total).is_not(None),
            scope.rows(col(OutcomeResponse.program_id)),
        )
        .order_by(col(OutcomeResponse.answered_at), col(OutcomeResponse.created_at))
    ).all():
        found.setdefault((response.program_id, response.instrument_slug), response)
    return found
