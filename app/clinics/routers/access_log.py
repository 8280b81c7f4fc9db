"""Who read a patient's data: the patient's own log, and a clinic's for its owners."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.clinics import access_log
from app.clinics.deps import ClinicOwnerDep, clinic_router
from app.clinics.schemas import AccessLogPage
from app.core.deps import ReadSessionDep
from app.core.errors import error_responses
from app.core.pagination import PageDep, envelope
from app.identity.deps import CurrentUserDep

me = APIRouter(prefix="/v1/me", tags=["me"])
clinic = clinic_router(tags=["clinic access log"])

PRIVATE = "private, no-store"


@me.get(
    "/access-log",
    name="my_access_log",
    summary="Who read your data: each read by a clinic's staff or systems",
    response_model=AccessLogPage,
    responses=error_responses(401, 422),
)
def my_access_log(
    user: CurrentUserDep, session: ReadSessionDep, page: PageDep, response: Response
) -> dict[str, Any]:
    """Every read of your programs, sessions, pain and progress by a clinic you are linked
    to (its clinicians, owners and systems) or by an administrator: who, which clinic,
    what and when; newest first. Reads are written within a second or two. Kept for
    `ACCESS_LOG_DAYS`."""
    assert user.id is not None
    entries, total = access_log.of_patient(session, user.id, page)
    response.headers["Cache-Control"] = PRIVATE
    return envelope([access_log.present(e) for e in entries], total, page)


@clinic.get(
    "/access-log",
    name="clinic_access_log",
    summary="Who read which patient's data in this clinic (owners)",
    response_model=AccessLogPage,
    responses=error_responses(401, 403, 404, 422),
)
def clinic_access_log(
    actor: ClinicOwnerDep,
    session: ReadSessionDep,
    page: PageDep,
    response: Response,
    patient_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Only reads of this patient.")
    ] = None,
) -> dict[str, Any]:
    """Every read of a patient's data by the clinic's staff, its API clients and
    administrators; newest first."""
    entries, total = access_log.of_clinic(session, actor.clinic_id, page, patient_id=patient_id)
    response.headers["Cache-Control"] = PRIVATE
    return envelope([access_log.present(e) for e in entries], total, page)
