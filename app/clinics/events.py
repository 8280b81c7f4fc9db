"""The webhook outbox: events are written in the same transaction as the change.

If the process dies after the commit, the rows are still there and the
delivery worker sends them; if the change rolls back, so do its events. Only
clinics the patient is linked to (with consent, not withdrawn) get them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.clinics.models import EventType, PatientLink, WebhookDelivery, WebhookSubscription
from app.core.models import utcnow


@cache
def _subscriptions_of_patient(*, narrowed: bool) -> SelectOfScalar[WebhookSubscription]:
    """Built once: every session write asks this (usually to find no one listening)."""
    links = select(PatientLink.clinic_id).where(
        PatientLink.patient_id == bindparam("patient_id"), col(PatientLink.revoked_at).is_(None)
    )
    if narrowed:
        links = links.where(PatientLink.clinic_id == bindparam("clinic_id"))
    return select(WebhookSubscription).where(
        col(WebhookSubscription.clinic_id).in_(links),
        col(WebhookSubscription.active).is_(True),
    )


def emit(
    session: Session,
    *,
    patient_id: int,
    event_type: EventType,
    data: dict[str, Any],
    clinic_id: int | None = None,
    now: datetime | None = None,
) -> str | None:
    """Queue `event_type` for every subscribed clinic linked to the patient.

    `clinic_id` narrows it to one clinic (link events concern that clinic only, and
    events about a clinic's own program concern that clinic only).
    Returns the event id, or None when no clinic is listening.
    """
    statement = _subscriptions_of_patient(narrowed=clinic_id is not None)
    params: dict[str, Any] = {"patient_id": patient_id}
    if clinic_id is not None:
        params["clinic_id"] = clinic_id
    found = session.execute(statement, params)
    subscriptions = [
        subscription
        for subscription in found.scalars()
        if event_type.value in subscription.event_types
    ]
    if not subscriptions:
        return None
    moment = now or utcnow()
    event_id = str(uuid.uuid4())
    for subscription in subscriptions:
        assert subscription.id is not None
        session.add(
            WebhookDelivery(
                subscription_id=subscription.id,
                event_id=event_id,
                event_type=event_type.value,
                payload={
                    "id": event_id,
                    "type": event_type.value,
                    "created_at": moment.isoformat(),
                    "clinic_id": subscription.clinic_id,
                    "data": {"patient_id": patient_id, **data},
                },
                next_attempt_at=moment,
                created_at=moment,
            )
        )
    session.flush()
    return event_id
