"""Outcomes for a clinic: schedule questionnaires for a patient, read their responses.

Every read goes through the patient's `scope`, the one visibility filter: a
response to another clinic's program is not there for this clinic.
"""

from __future__ import annotations

from fastapi import Response, status

from app.care.deps import ManagedPatientDep, ReadablePatientDep
from app.clinics.deps import ClinicActorDep, ProgramsWriterDep, clinic_router
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import error_responses
from app.core.http_cache import PRIVATE
from app.core.models import utcnow
from app.core.pagination import PageDep
from app.outcomes import alerts, responses, schedules
from app.outcomes.present import response_out, schedule_out
from app.outcomes.schemas import (
    AdherenceWatchIn,
    AdherenceWatchOut,
    ResponsePage,
    ScheduleIn,
    ScheduleOut,
)

router = clinic_router(tags=["clinic outcomes"])


@router.post(
    "/patients/{patient_id}/questionnaires",
    name="schedule_questionnaire",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduleOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def schedule_questionnaire(
    patient: ManagedPatientDep, actor: ProgramsWriterDep, body: ScheduleIn, session: SessionDep
) -> ScheduleOut:
    """Ask the patient to answer a published instrument for one of their programs: once at
    enrollment, every N days, or at each stage change. Needs `programs:write`."""
    row = schedules.create(
        session,
        user_id=patient.id,
        scope=patient.scope,
        body=body,
        clinic_id=patient.clinic_id,
        created_by_id=actor.actor_user_id,
        now=utcnow(),
    )
    return schedule_out(row)


@router.get(
    "/patients/{patient_id}/questionnaires",
    name="list_patient_questionnaires",
    response_model=list[ScheduleOut],
    responses=error_responses(401, 403, 404, 422),
)
def list_questionnaires(
    patient: ReadablePatientDep, session: ReadSessionDep, response: Response
) -> list[ScheduleOut]:
    """The patient's questionnaire schedules in programs this clinic may see."""
    response.headers["Cache-Control"] = PRIVATE
    rows = schedules.of_person(session, user_id=patient.id, scope=patient.scope)
    return [schedule_out(row) for row in rows]


@router.get(
    "/patients/{patient_id}/responses",
    name="list_patient_responses",
    response_model=ResponsePage,
    responses=error_responses(401, 403, 404, 422),
)
def list_patient_responses(
    patient: ReadablePatientDep, session: ReadSessionDep, page: PageDep, response: Response
) -> ResponsePage:
    """The patient's scored responses, newest first, with the change from their first."""
    response.headers["Cache-Control"] = PRIVATE
    found, total = responses.list_responses(
        session, user_id=patient.id, scope=patient.scope, limit=page.limit, offset=page.offset
    )
    return ResponsePage(
        items=[response_out(scored) for scored in found],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/adherence-alert",
    name="get_adherence_alert",
    response_model=AdherenceWatchOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_adherence_alert(actor: ClinicActorDep, session: ReadSessionDep) -> AdherenceWatchOut:
    """The 7-day adherence (%) below which the clinic's receivers get `adherence.low`."""
    return AdherenceWatchOut(threshold=alerts.threshold_of(session, actor.clinic_id))


@router.put(
    "/adherence-alert",
    name="set_adherence_alert",
    response_model=AdherenceWatchOut,
    responses=error_responses(401, 403, 404, 422),
)
def set_adherence_alert(
    actor: ProgramsWriterDep, body: AdherenceWatchIn, session: SessionDep
) -> AdherenceWatchOut:
    """Set the threshold (null: no alerts). `adherence.low` is queued once when a patient's
    7-day adherence in a program at least a week old falls below it, and again only after
    it recovered. Needs `programs:write`."""
    alerts.set_threshold(session, clinic_id=actor.clinic_id, threshold=body.threshold, now=utcnow())
    return AdherenceWatchOut(threshold=body.threshold)
