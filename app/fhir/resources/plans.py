"""CarePlan and ServiceRequest: one of each per enrollment the clinic may see.

Following the HL7 Physical Activity IG, the CarePlan is the plan (category
PhysicalActivity, intent `plan`, its period) and the ServiceRequest the
exercise prescription based on it (SNOMED CT 229065009 "Exercise therapy").
The CarePlan's activities are the current stage's exercises, each with its
dosage as a Timing (how often) and a Quantity (sets); the ServiceRequest
orders the current stage as a whole: sessions a week, its exercises in words,
the stage's guidance for the patient.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import col

from app.catalog.dosage import amount_text, dosage_text, frequency_text
from app.catalog.snapshot import ProgramEntry, StageEntry, StageItem
from app.core.models import as_utc
from app.fhir.codes import (
    CURRENT_STAGE_EXTENSION,
    ENROLLMENT_SYSTEM,
    EXERCISE_SYSTEM,
    EXERCISE_THERAPY,
    PHYSICAL_ACTIVITY,
    PROGRAM_SYSTEM,
    Json,
    coding,
    quantity,
)
from app.fhir.context import Criteria, FhirContext, Key, instant, int_key
from app.fhir.registry import LAST_UPDATED, PATIENT, Found, SearchParam, subject_patient
from app.fhir.resources.common import (
    BATCH,
    first_or_missing,
    numeric_id,
    numeric_ids,
    patient_reference,
)
from app.progress.models import Enrollment
from app.progress.report import prescribed_per_week

# When an enrollment last changed: its stage moved, or it was completed.
ENROLLMENT_UPDATED = func.coalesce(col(Enrollment.completed_at), col(Enrollment.stage_started_at))


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    id: int
    user_id: int
    program: ProgramEntry
    current_stage: int
    started_at: datetime
    stage_started_at: datetime
    completed_at: datetime | None
    assigned_clinic_id: int | None

    @property
    def stage(self) -> StageEntry | None:
        return self.program.stage(self.current_stage)

    @property
    def last_updated(self) -> datetime:
        return as_utc(self.completed_at or self.stage_started_at)


def enrollment_rows(
    ctx: FhirContext,
    criteria: Criteria,
    after: int = 0,
    *,
    ids: list[int] | None = None,
    updated: bool = True,
) -> Iterator[EnrollmentRow]:
    """Enrollments of linked patients in programs the clinic may see, by id, in batches."""
    last = after
    while True:
        query = (
            columns(
                col(Enrollment.id),
                col(Enrollment.user_id),
                col(Enrollment.program_id),
                col(Enrollment.current_stage),
                col(Enrollment.started_at),
                col(Enrollment.stage_started_at),
                col(Enrollment.completed_at),
                col(Enrollment.assigned_clinic_id),
            )
            .where(
                ctx.linked(col(Enrollment.user_id)),
                ctx.scope.rows(col(Enrollment.program_id)),
                criteria.patient_filter(col(Enrollment.user_id)),
                col(Enrollment.id) > last,
            )
            .order_by(col(Enrollment.id))
            .limit(BATCH)
        )
        if updated:
            query = query.where(criteria.updated.sql(ENROLLMENT_UPDATED))
        if ids is not None:
            query = query.where(col(Enrollment.id).in_(ids))
        rows = ctx.session.execute(query).all()
        for row in rows:
            enrollment_id, user_id, program_id, stage, started, stage_started, done, clinic = row
            program = ctx.snapshot.program_by_id.get(program_id)
            if program is None or enrollment_id is None:  # unpublished since: nothing to show
                continue
            yield EnrollmentRow(
                enrollment_id,
                user_id,
                program,
                stage,
                as_utc(started),
                as_utc(stage_started),
                as_utc(done) if done else None,
                clinic,
            )
        if len(rows) < BATCH:
            return
        last = rows[-1][0] or last


class _EnrollmentProvider:
    resource_type: str = ""
    what = ""
    search_params: tuple[SearchParam, ...] = (PATIENT, LAST_UPDATED)
    in_patient_compartment: bool = True

    def read(self, ctx: FhirContext, resource_id: str) -> Json:
        wanted = [numeric_id(resource_id, self.what)]
        found = [self.render(ctx, row) for row in enrollment_rows(ctx, Criteria(), ids=wanted)]
        return first_or_missing(found, self.what)

    def search(self, ctx: FhirContext, criteria: Criteria, after: Key | None) -> Iterator[Found]:
        start = (int_key(after, 1) or (0,))[0]
        for row in enrollment_rows(ctx, criteria, start, ids=numeric_ids(criteria.ids)):
            yield Found((row.id,), row.user_id, self.render(ctx, row))

    def patient_of(self, resource: Json) -> int | None:
        return subject_patient(resource)

    def render(self, ctx: FhirContext, row: EnrollmentRow) -> Json:
        raise NotImplementedError


def exercise_concept(item: StageItem) -> Json:
    entry = item.exercise
    return {"coding": [coding(EXERCISE_SYSTEM, entry.slug, entry.name)], "text": entry.name}


def timing(item: StageItem) -> Json:
    """How often: per day when done every day, else per week; in words as well."""
    per_day = int(item.dosage["times_per_day"])
    days = int(item.dosage["days_per_week"])
    repeat = (
        {"frequency": per_day, "period": 1, "periodUnit": "d"}
        if days == 7
        else {"frequency": per_day * days, "period": 1, "periodUnit": "wk"}
    )
    return {"repeat": repeat, "code": {"text": frequency_text(item.dosage)}}


def stage_title(row: EnrollmentRow) -> str:
    stage = row.stage
    name = f": {stage.name}" if stage else ""
    return f"Stage {row.current_stage} of {len(row.program.stages)}{name}"


class CarePlanProvider(_EnrollmentProvider):
    resource_type: str = "CarePlan"
    what = "care plan"

    def render(self, ctx: FhirContext, row: EnrollmentRow) -> Json:
        stage = row.stage
        done = row.completed_at is not None
        plan: Json = {
            "resourceType": "CarePlan",
            "id": str(row.id),
            "meta": {"lastUpdated": instant(row.last_updated)},
            "extension": [{"url": CURRENT_STAGE_EXTENSION, "valuePositiveInt": row.current_stage}],
            "identifier": [{"system": ENROLLMENT_SYSTEM, "value": str(row.id)}],
            "instantiatesUri": [f"{ctx.api_root}/v1/programs/{row.program.slug}"],
            "status": "completed" if done else "active",
            "intent": "plan",
            "category": [PHYSICAL_ACTIVITY],
            "title": row.program.name,
            "description": (
                f"{row.program.name} ({PROGRAM_SYSTEM}|{row.program.slug}), "
                + ("completed." if done else f"{stage_title(row)}.")
                + (f" {stage.guidance}" if stage and stage.guidance and not done else "")
            ),
            "subject": patient_reference(row.user_id),
            "period": {"start": instant(row.started_at)},
            "created": instant(row.started_at),
        }
        if row.completed_at:
            plan["period"]["end"] = instant(row.completed_at)
        if stage is not None and stage.items:
            plan["activity"] = [
                {
                    "detail": {
                        "kind": "ServiceRequest",
                        "code": exercise_concept(item),
                        "status": "completed" if done else "in-progress",
                        "scheduledTiming": timing(item),
                        "quantity": quantity(int(item.dosage["sets"]), "sets", "{set}"),
                        "description": f"{item.exercise.name}: {dosage_text(item.dosage)}",
                    }
                }
                for item in stage.items
            ]
        return plan


class ServiceRequestProvider(_EnrollmentProvider):
    resource_type: str = "ServiceRequest"
    what = "service request"

    def render(self, ctx: FhirContext, row: EnrollmentRow) -> Json:
        stage = row.stage
        done = row.completed_at is not None
        request: Json = {
            "resourceType": "ServiceRequest",
            "id": str(row.id),
            "meta": {"lastUpdated": instant(row.last_updated)},
            "basedOn": [{"reference": f"CarePlan/{row.id}"}],
            "status": "completed" if done else "active",
            # A clinic's assignment is an order; a program a person chose is their own plan.
            "intent": "order" if row.assigned_clinic_id is not None else "plan",
            "category": [PHYSICAL_ACTIVITY],
            "code": {
                "coding": [EXERCISE_THERAPY],
                "text": f"{row.program.name}, {stage_title(row)}",
            },
            "subject": patient_reference(row.user_id),
            "authoredOn": instant(row.stage_started_at),
            "performer": [patient_reference(row.user_id)],
        }
        per_week = prescribed_per_week(row.program, row.current_stage)
        bounds: Json = {"start": instant(row.stage_started_at)}
        if row.completed_at:
            bounds["end"] = instant(row.completed_at)
        repeat: Json = {"boundsPeriod": bounds}
        if per_week:
            repeat |= {"frequency": per_week, "period": 1, "periodUnit": "wk"}
        request["occurrenceTiming"] = {"repeat": repeat}
        if stage is not None and stage.items:
            request["orderDetail"] = [
                {
                    "coding": exercise_concept(item)["coding"],
                    "text": f"{item.exercise.name}: {amount_text(item.dosage)}; "
                    f"{frequency_text(item.dosage)}",
                }
                for item in stage.items
            ]
        if stage is not None and stage.guidance:
            request["patientInstruction"] = stage.guidance
        if row.assigned_clinic_id == ctx.clinic_id:
            request["requester"] = {"display": ctx.clinic_name}  # only the asking clinic's own
        return request
