"""The webhook outbox: events are written in the same transaction as the change.

If the process dies after the commit, the rows are still there and the
delivery worker sends them; if the change rolls back, so do its events. Only
clinics the patient is linked to (with consent, not withdrawn) get them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Dialect, Select, bindparam, select
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session

from app.clinics.models import EventType, PatientLink, WebhookSubscription
from app.core.driver import DriverStatement, Pending, driver_cursor
from app.core.models import table_of, utcnow
from app.outbox.models import Channel, OutboxMessage


def _subscriptions_statement(*, narrowed: bool) -> Select[int, int, list[str]]:
    links = table_of(PatientLink)
    subscriptions = table_of(WebhookSubscription)
    linked = select(links.c.clinic_id).where(
        links.c.patient_id == bindparam("patient_id"), links.c.revoked_at.is_(None)
    )
    if narrowed:
        linked = linked.where(links.c.clinic_id == bindparam("clinic_id"))
    return select(subscriptions.c.id, subscriptions.c.clinic_id, subscriptions.c.event_types).where(
        subscriptions.c.clinic_id.in_(linked), subscriptions.c.active.is_(True)
    )


@cache  # once per engine's dialect
def _compiled(dialect: Dialect, *, narrowed: bool) -> DriverStatement:
    return DriverStatement(_subscriptions_statement(narrowed=narrowed), dialect, repeatable=True)


def _subscriptions_of_patient(session: Session, *, narrowed: bool) -> DriverStatement:
    """Compiled once per dialect: every session write asks this (usually to find no one
    listening), for the three columns it needs."""
    return _compiled(session.get_bind().dialect, narrowed=narrowed)


Listener = tuple[int, int, list[str]]  # subscription id, its clinic, the event types it takes


def _listener_params(patient_id: int, clinic_id: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"patient_id": patient_id}
    if clinic_id is not None:
        params["clinic_id"] = clinic_id
    return params


def ask_listeners(
    session: Session, cursor: DBAPICursor, *, patient_id: int, clinic_id: int | None = None
) -> Pending:
    """Send the question `emit` asks (who listens to the patient's events), to read later:
    a write that batches its statements asks it with the rest and passes the answer on.
    The caller flushes first, as `emit` does."""
    statement = _subscriptions_of_patient(session, narrowed=clinic_id is not None)
    return statement.send(cursor, _listener_params(patient_id, clinic_id))


def emit(
    session: Session,
    *,
    patient_id: int,
    event_type: EventType,
    data: dict[str, Any],
    clinic_id: int | None = None,
    now: datetime | None = None,
    outlives_patient: bool = False,
    listeners: Sequence[Listener] | None = None,
) -> str | None:
    """Queue `event_type` for every subscribed clinic linked to the patient.

    `clinic_id` narrows it to one clinic (link events concern that clinic only, and
    events about a clinic's own program concern that clinic only). Deliveries are
    filed under the patient, so erasing them erases what is still owed about them;
    `outlives_patient` is for the one event that announces that erasure.
    `listeners`: the answer of `ask_listeners` for the same patient and clinic, when the
    caller asked it already; that caller's session flushes the queued rows (a write in
    lockstep may be mid-pipeline, where the ORM cannot run). Returns the event id, or None
    when no clinic is listening.
    """
    found = listeners
    if found is None:
        session.flush()  # a link added in this transaction must count: the query is not the ORM's
        with closing(driver_cursor(session)) as cursor:
            found = ask_listeners(session, cursor, patient_id=patient_id, clinic_id=clinic_id).all()
    subscriptions = [
        (subscription_id, subscriber)
        for subscription_id, subscriber, event_types in found
        if event_type.value in event_types
    ]
    if not subscriptions:
        return None
    moment = now or utcnow()
    event_id = str(uuid.uuid4())
    for subscription_id, subscriber in subscriptions:
        session.add(
            OutboxMessage(
                channel=Channel.WEBHOOK,
                subscription_id=subscription_id,
                clinic_id=subscriber,
                user_id=None if outlives_patient else patient_id,
                event_id=event_id,
                event_type=event_type.value,
                payload={
                    "id": event_id,
                    "type": event_type.value,
                    "created_at": moment.isoformat(),
                    "clinic_id": subscriber,
                    "data": {"patient_id": patient_id, **data},
                },
                next_attempt_at=moment,
                created_at=moment,
            )
        )
    if listeners is None:
        session.flush()
    return event_id
