"""Observation, per logged session: the Physical Activity IG's activity panel.

One Observation per session (its client UUID is the id): categories `activity`
and PhysicalActivity, the PA panel code, the worst pain reported in it
(LOINC 72514-3, 0-10), how many exercises were done and the hardest rating.
Each exercise done is a member Observation (LOINC 73985-4 "Exercise
activity", the exercise as its value) with sets, reps, hold time, difficulty
and pain, contained in the session so the session stays one resource.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as columns
from sqlmodel import col, select

from app.catalog.models import Exercise
from app.core.errors import NotFoundError
from app.core.models import as_utc
from app.fhir.codes import (
    ACTIVITY_CATEGORY,
    EXERCISE_ACTIVITY,
    EXERCISE_SYSTEM,
    PA_PANEL,
    PAIN,
    PHYSICAL_ACTIVITY,
    Json,
    coding,
    difficulty,
    measure,
    pain_score,
    quantity,
)
from app.fhir.context import Criteria, FhirContext, instant
from app.fhir.outcome import GoneError
from app.fhir.resources.common import (
    BATCH,
    after_pair,
    enrollment_of,
    patient_reference,
    seen_by_clinic,
)
from app.progress.models import Enrollment, SessionEntry, SessionLog

CATEGORIES = [ACTIVITY_CATEGORY, PHYSICAL_ACTIVITY]
HARDNESS = {"easy": 0, "moderate": 1, "hard": 2}


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    user_id: int
    seq: int
    performed_at: datetime
    created_at: datetime
    updated_at: datetime
    note: str | None
    enrollment_id: int | None


def session_rows(
    ctx: FhirContext,
    criteria: Criteria,
    after: tuple[int, int] | None,
    *,
    session_id: str | None = None,
) -> Iterator[SessionRow]:
    """Live sessions of linked patients in programs the clinic may see, by (person, seq)."""
    last = after
    while True:
        query = (
            columns(
                col(SessionLog.id),
                col(SessionLog.user_id),
                col(SessionLog.seq),
                col(SessionLog.performed_at),
                col(SessionLog.created_at),
                col(SessionLog.updated_at),
                col(SessionLog.note),
                col(Enrollment.id),
            )
            .outerjoin(
                Enrollment,
                enrollment_of(user=col(SessionLog.user_id), program=col(SessionLog.program_id)),
            )
            .where(
                *seen_by_clinic(
                    ctx,
                    criteria,
                    user=col(SessionLog.user_id),
                    program=col(SessionLog.program_id),
                    updated=col(SessionLog.updated_at),
                ),
                col(SessionLog.deleted_at).is_(None),
            )
            .order_by(col(SessionLog.user_id), col(SessionLog.seq))
            .limit(BATCH)
        )
        if session_id is not None:
            query = query.where(col(SessionLog.id) == session_id)
        if last is not None:
            query = query.where(after_pair(col(SessionLog.user_id), col(SessionLog.seq), last))
        rows = ctx.session.execute(query).all()
        for sid, user_id, seq, performed, created, updated, note, enrollment_id in rows:
            yield SessionRow(
                sid,
                user_id,
                seq,
                as_utc(performed),
                as_utc(created),
                as_utc(updated),
                note,
                enrollment_id,
            )
        if len(rows) < BATCH:
            return
        last = (rows[-1][1], rows[-1][2])


@dataclass(frozen=True, slots=True)
class EntryRow:
    position: int
    slug: str
    name: str
    sets_done: int
    reps_done: int | None
    hold_seconds_done: int | None
    difficulty: str
    pain: int
    note: str | None


def entries_of(ctx: FhirContext, session_ids: list[str]) -> dict[str, list[EntryRow]]:
    found: dict[str, list[EntryRow]] = defaultdict(list)
    if not session_ids:
        return found
    rows = ctx.session.execute(
        columns(
            col(SessionEntry.session_id),
            col(SessionEntry.position),
            col(Exercise.slug),
            col(Exercise.name),
            col(SessionEntry.sets_done),
            col(SessionEntry.reps_done),
            col(SessionEntry.hold_seconds_done),
            col(SessionEntry.difficulty),
            col(SessionEntry.pain),
            col(SessionEntry.note),
        )
        .join(Exercise, col(Exercise.id) == col(SessionEntry.exercise_id))
        .where(col(SessionEntry.session_id).in_(session_ids))
        .order_by(col(SessionEntry.session_id), col(SessionEntry.position))
    )
    for session_id, *rest in rows:
        found[session_id].append(EntryRow(*rest))
    return found


def session_batches(
    ctx: FhirContext, criteria: Criteria, after: tuple[int, int] | None
) -> Iterator[tuple[SessionRow, Json]]:
    """Each session with its Observation, entries read once per batch."""
    batch: list[SessionRow] = []
    for row in session_rows(ctx, criteria, after):
        batch.append(row)
        if len(batch) == BATCH:
            yield from _rendered(ctx, batch)
            batch = []
    yield from _rendered(ctx, batch)


def _rendered(ctx: FhirContext, rows: list[SessionRow]) -> Iterator[tuple[SessionRow, Json]]:
    entries = entries_of(ctx, [row.id for row in rows])
    for row in rows:
        yield row, session_observation(row, entries.get(row.id, []))


def read_session(ctx: FhirContext, session_id: str) -> Json:
    for row, resource in _rendered(
        ctx, list(session_rows(ctx, Criteria(), None, session_id=session_id))
    ):
        del row
        return resource
    deleted = ctx.session.exec(
        select(SessionLog.id).where(
            SessionLog.id == session_id,
            col(SessionLog.deleted_at).is_not(None),
            ctx.linked(col(SessionLog.user_id)),
            ctx.scope.rows(col(SessionLog.program_id)),
        )
    ).first()
    if deleted is not None:
        raise GoneError("The patient deleted this session.")
    raise NotFoundError("No such observation.")


def session_observation(row: SessionRow, entries: list[EntryRow]) -> Json:
    subject = patient_reference(row.user_id)
    moment = instant(row.performed_at)
    observation: Json = {
        "resourceType": "Observation",
        "id": row.id,
        "meta": {"lastUpdated": instant(row.updated_at)},
        "status": "final",
        "category": CATEGORIES,
        "code": {"coding": [PA_PANEL], "text": "Exercise session"},
        "subject": subject,
        "effectiveDateTime": moment,
        "issued": instant(row.created_at),
        "performer": [subject],
    }
    if row.enrollment_id is not None:
        observation["basedOn"] = [{"reference": f"CarePlan/{row.enrollment_id}"}]
    if entries:
        hardest = max((e.difficulty for e in entries), key=lambda d: HARDNESS.get(d, 0))
        observation["component"] = [
            {"code": PAIN, "valueQuantity": pain_score(max(e.pain for e in entries))},
            {"code": measure("exercises-done"), "valueInteger": len(entries)},
            {"code": measure("difficulty"), "valueCodeableConcept": difficulty(hardest)},
        ]
        observation["contained"] = [_member(entry, subject, moment) for entry in entries]
        observation["hasMember"] = [{"reference": f"#e{entry.position}"} for entry in entries]
    if row.note:
        observation["note"] = [{"text": row.note}]
    return observation


def _member(entry: EntryRow, subject: Json, moment: str) -> Json:
    components: list[Json] = [{"code": measure("sets-done"), "valueInteger": entry.sets_done}]
    if entry.reps_done is not None:
        components.append({"code": measure("reps-done"), "valueInteger": entry.reps_done})
    if entry.hold_seconds_done is not None:
        components.append(
            {
                "code": measure("hold-seconds-done"),
                "valueQuantity": quantity(entry.hold_seconds_done, "s", "s"),
            }
        )
    components += [
        {"code": measure("difficulty"), "valueCodeableConcept": difficulty(entry.difficulty)},
        {"code": PAIN, "valueQuantity": pain_score(entry.pain)},
    ]
    member: Json = {
        "resourceType": "Observation",
        "id": f"e{entry.position}",
        "status": "final",
        "category": CATEGORIES,
        "code": EXERCISE_ACTIVITY,
        "subject": subject,
        "effectiveDateTime": moment,
        "valueCodeableConcept": {
            "coding": [coding(EXERCISE_SYSTEM, entry.slug, entry.name)],
            "text": entry.name,
        },
        "component": components,
    }
    if entry.note:
        member["note"] = [{"text": entry.note}]
    return member
