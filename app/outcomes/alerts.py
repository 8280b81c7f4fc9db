"""`adherence.low`: told once when a patient's 7-day adherence falls below the clinic's
threshold, and again only after it recovered.

The fall happens with no write at all (days pass without a session), so a
sweep looks: whatever sends the outbox, every `ADHERENCE_CHECK_MINUTES`
(`app.outcomes.sweeps`), `rehab check-adherence` at once, or `check_adherence`
with any `now` in the tests. Only enrollments at least a week old are judged, so
nobody is "low" on their first day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot
from app.clinics.events import emit
from app.clinics.models import EventType, PatientLink
from app.core.models import as_utc
from app.outcomes.models import AdherenceAlert, AdherenceWatch
from app.outcomes.summaries import adherence_of_people
from app.progress.evaluation import enrollment_states_of_people
from app.progress.scope import ProgramScope

WEEK = timedelta(days=7)


def threshold_of(session: Session, clinic_id: int) -> int | None:
    watch = session.get(AdherenceWatch, clinic_id)
    return None if watch is None else watch.threshold


def set_threshold(
    session: Session, *, clinic_id: int, threshold: int | None, now: datetime
) -> None:
    """Watch the clinic's patients at `threshold` percent, or stop watching (None)."""
    watch = session.get(AdherenceWatch, clinic_id)
    if threshold is None:
        if watch is not None:
            session.delete(watch)
        return
    if watch is None:
        watch = AdherenceWatch(clinic_id=clinic_id, threshold=threshold, updated_at=now)
    watch.threshold, watch.updated_at = threshold, now
    session.add(watch)


def check_adherence(session: Session, *, snapshot: CatalogSnapshot, now: datetime) -> int:
    """Queue `adherence.low` where it is news; returns how many were queued."""
    queued = 0
    for watch in session.exec(select(AdherenceWatch).order_by(col(AdherenceWatch.clinic_id))):
        queued += _check_clinic(session, watch, snapshot, now)
    return queued


def _check_clinic(
    session: Session, watch: AdherenceWatch, snapshot: CatalogSnapshot, now: datetime
) -> int:
    clinic_id = watch.clinic_id
    patient_ids = list(
        session.exec(
            select(PatientLink.patient_id).where(
                col(PatientLink.clinic_id) == clinic_id, col(PatientLink.revoked_at).is_(None)
            )
        ).all()
    )
    if not patient_ids:
        return 0
    scope = ProgramScope.of_clinic(clinic_id)
    states = enrollment_states_of_people(
        session, user_ids=patient_ids, snapshot=snapshot, now=now, scope=scope
    )
    adherence = adherence_of_people(session, states=states, now=now, scope=scope)
    alerts = {
        alert.enrollment_id: alert
        for alert in session.exec(
            select(AdherenceAlert).where(col(AdherenceAlert.clinic_id) == clinic_id)
        )
    }
    queued = 0
    for user_id, user_states in states.items():
        for state in user_states:
            enrollment = state.enrollment
            assert enrollment.id is not None
            if enrollment.completed_at is not None or now - as_utc(enrollment.started_at) < WEEK:
                continue
            week = adherence[(user_id, enrollment.program_id)][7]
            if week.percent is None:
                continue
            low = week.percent < watch.threshold
            alert = alerts.get(enrollment.id)
            was_low = alert is not None and alert.low
            if low == was_low:
                continue
            if alert is None:
                alert = AdherenceAlert(clinic_id=clinic_id, enrollment_id=enrollment.id, low=low)
            alert.low, alert.changed_at = low, now
            session.add(alert)
            if low:
                emit(
                    session,
                    patient_id=user_id,
                    event_type=EventType.ADHERENCE_LOW,
                    data={
                        "program": state.program.slug,
                        "sessions_last_7_days": week.sessions,
                        "planned_last_7_days": week.planned,
                        "adherence_percent": week.percent,
                        "threshold_percent": watch.threshold,
                    },
                    clinic_id=clinic_id,
                    now=now,
                )
                queued += 1
    return queued
