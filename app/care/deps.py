"""A clinic's patient, as a route receives them: linked with live consent, or a 404.

`ReadablePatientDep` (the `patients:read` scope) and `ManagedPatientDep`
(`programs:write`) resolve the patient in the route's own session, so consent
withdrawn a moment ago is refused on the very next request. What the route
then reads goes through the patient's `scope`, the one visibility filter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.care.service import LinkedPatient
from app.clinics.deps import PatientsReaderDep, ProgramsWriterDep
from app.clinics.service import linked_patient
from app.core.deps import ReadSessionDep, SessionDep

PatientIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The patient's user id.")]


def readable_patient(
    patient_id: PatientIdPath, actor: PatientsReaderDep, session: ReadSessionDep
) -> LinkedPatient:
    return LinkedPatient(linked_patient(session, actor.clinic_id, patient_id), actor.clinic_id)


def managed_patient(
    patient_id: PatientIdPath, actor: ProgramsWriterDep, session: SessionDep
) -> LinkedPatient:
    return LinkedPatient(linked_patient(session, actor.clinic_id, patient_id), actor.clinic_id)


ReadablePatientDep = Annotated[LinkedPatient, Depends(readable_patient)]
ManagedPatientDep = Annotated[LinkedPatient, Depends(managed_patient)]
