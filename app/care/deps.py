"""A clinic's patient, as a route receives them: linked with live consent, or a 404.

`ReadablePatientDep` (the `patients:read` scope) and `ManagedPatientDep`
(`programs:write`) resolve the patient in the route's own session, so consent
withdrawn a moment ago is refused on the very next request. What the route
then reads goes through the patient's `scope`, the one visibility filter, and
the read is in the patient's access log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request

from app.care.service import LinkedPatient
from app.clinics.deps import PatientsReaderDep, ProgramsWriterDep, record_access
from app.clinics.service import linked_patient
from app.core.deps import ReadSessionDep, SessionDep

PatientIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The patient's user id.")]


def readable_patient(
    request: Request, patient_id: PatientIdPath, actor: PatientsReaderDep, session: ReadSessionDep
) -> Iterator[LinkedPatient]:
    yield LinkedPatient(linked_patient(session, actor.clinic_id, patient_id), actor.clinic_id)
    # Reached only when the route answered: a refused request read nothing.
    record_access(request, actor, [patient_id])


def managed_patient(
    request: Request, patient_id: PatientIdPath, actor: ProgramsWriterDep, session: SessionDep
) -> Iterator[LinkedPatient]:
    yield LinkedPatient(linked_patient(session, actor.clinic_id, patient_id), actor.clinic_id)
    record_access(request, actor, [patient_id])


ReadablePatientDep = Annotated[LinkedPatient, Depends(readable_patient, scope="function")]
ManagedPatientDep = Annotated[LinkedPatient, Depends(managed_patient, scope="function")]
