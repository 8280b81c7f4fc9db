"""Observation: every logged session, then every week's adherence, as one searchable type."""

from __future__ import annotations

from collections.abc import Iterator

from app.fhir.codes import Json
from app.fhir.context import Criteria, FhirContext, Key
from app.fhir.outcome import BadRequestError
from app.fhir.registry import LAST_UPDATED, PATIENT, Found, SearchParam, subject_patient
from app.fhir.resources.adherence import adherence_batches, read_adherence
from app.fhir.resources.sessions import read_session, session_batches

SESSION_ID_LENGTH = 36


class ObservationProvider:
    resource_type: str = "Observation"
    search_params: tuple[SearchParam, ...] = (PATIENT, LAST_UPDATED)
    in_patient_compartment: bool = True

    def read(self, ctx: FhirContext, resource_id: str) -> Json:
        if len(resource_id) == SESSION_ID_LENGTH:
            return read_session(ctx, resource_id)
        return read_adherence(ctx, resource_id)

    def search(self, ctx: FhirContext, criteria: Criteria, after: Key | None) -> Iterator[Found]:
        # Sessions first, by (patient, change number); then adherence, by (enrollment, week).
        phase, position = _position(after)
        if phase == "s":
            for row, resource in session_batches(ctx, criteria, position):
                yield Found(("s", row.user_id, row.seq), row.user_id, resource)
            position = None
        for (enrollment_id, week), patient_id, resource in adherence_batches(
            ctx, criteria, position
        ):
            yield Found(("w", enrollment_id, week), patient_id, resource)

    def patient_of(self, resource: Json) -> int | None:
        return subject_patient(resource)


def _position(after: Key | None) -> tuple[str, tuple[int, int] | None]:
    if after is None:
        return "s", None
    if len(after) == 3 and after[0] in ("s", "w"):
        phase, first, second = after
        if isinstance(first, int) and isinstance(second, int):
            return str(phase), (first, second)
    raise BadRequestError("'_cursor' is not a page token for Observation searches.")
