"""Observation, per enrollment and week: sessions logged against the stage's prescription.

Weeks are ISO weeks in UTC (Monday to Monday), from the week the person started
to this one (or the one they completed the program in). The prescription is
the stage's sessions a week (`progress.report.prescribed_per_week`) at the
stage the person stood at when the week ended; an open week is `preliminary`.
No standard code names exercise adherence, so the code is this API's own.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select as columns
from sqlmodel import col, select

from app.core.errors import NotFoundError
from app.core.models import as_utc
from app.fhir.codes import (
    ACTIVITY_CATEGORY,
    DATA_ABSENT,
    PHYSICAL_ACTIVITY,
    Json,
    coding,
    measure,
    quantity,
)
from app.fhir.context import Criteria, FhirContext, instant
from app.fhir.resources.common import BATCH, patient_reference
from app.fhir.resources.plans import EnrollmentRow, enrollment_rows
from app.outcomes.adherence import percent_done
from app.progress.models import SessionLog, StageChange
from app.progress.report import prescribed_per_week

WEEK = timedelta(days=7)
# Each enrollment gives a resource a week: a few enrollments fill a page or an export batch.
ENROLLMENTS_AT_ONCE = BATCH // 4
ID_PATTERN = re.compile(r"^adherence-(\d{1,10})-(\d{4})-W(\d{2})$")


@dataclass
class _Activity:
    """What one enrollment's person logged, and when its stage moved."""

    sessions: list[tuple[datetime, datetime, bool]] = field(default_factory=list)
    moves: list[tuple[datetime, int]] = field(default_factory=list)  # (when, to stage)


def monday(moment: datetime) -> datetime:
    day = as_utc(moment).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(), tzinfo=UTC)


def adherence_id(enrollment_id: int, week_start: datetime) -> str:
    year, week, _ = week_start.date().isocalendar()
    return f"adherence-{enrollment_id}-{year:04d}-W{week:02d}"


def adherence_batches(
    ctx: FhirContext, criteria: Criteria, after: tuple[int, int] | None
) -> Iterator[tuple[tuple[int, int], int, Json]]:
    """((enrollment id, week ordinal), patient id, Observation), in that order."""
    start_enrollment = after[0] - 1 if after else 0
    batch: list[EnrollmentRow] = []
    # `_lastUpdated` is judged per week below, not per enrollment.
    for row in enrollment_rows(ctx, Criteria(criteria.patients), start_enrollment, updated=False):
        batch.append(row)
        if len(batch) == ENROLLMENTS_AT_ONCE:
            yield from _weeks(ctx, batch, criteria, after)
            batch = []
    yield from _weeks(ctx, batch, criteria, after)


def read_adherence(ctx: FhirContext, resource_id: str) -> Json:
    match = ID_PATTERN.match(resource_id)
    if match is None:
        raise NotFoundError("No such observation.")
    enrollment_id, year, week = (int(part) for part in match.groups())
    try:
        week_start = datetime.combine(date.fromisocalendar(year, week, 1), time(), tzinfo=UTC)
    except ValueError as exc:
        raise NotFoundError("No such observation.") from exc
    rows = list(enrollment_rows(ctx, Criteria(), ids=[enrollment_id], updated=False))
    for _, _, resource in _weeks(ctx, rows, Criteria(), None):
        if resource["id"] == adherence_id(enrollment_id, week_start):
            return resource
    raise NotFoundError("No such observation.")


def _weeks(
    ctx: FhirContext,
    rows: list[EnrollmentRow],
    criteria: Criteria,
    after: tuple[int, int] | None,
) -> Iterator[tuple[tuple[int, int], int, Json]]:
    activity = _activity(ctx, rows)
    for row in rows:
        done = activity[row.id]
        first = monday(row.started_at)
        end = row.completed_at or ctx.now
        week_start = first
        while week_start <= end:
            key = (row.id, week_start.toordinal())
            if after is None or key > after:
                resource = _observation(ctx, row, done, week_start)
                if criteria.updated.admits(_last_updated(resource)):
                    yield key, row.user_id, resource
            week_start += WEEK


def _last_updated(resource: Json) -> datetime:
    return datetime.fromisoformat(resource["meta"]["lastUpdated"])


def _activity(ctx: FhirContext, rows: list[EnrollmentRow]) -> dict[int, _Activity]:
    found: dict[int, _Activity] = defaultdict(_Activity)
    if not rows:
        return found
    by_pair = {(row.user_id, row.program.id): row.id for row in rows}
    # People and programs as two IN lists (a statement of two lists, not of every pair);
    # rows of other pairs are dropped here.
    for user, program, performed, updated, deleted in ctx.session.execute(
        columns(
            col(SessionLog.user_id),
            col(SessionLog.program_id),
            col(SessionLog.performed_at),
            col(SessionLog.updated_at),
            col(SessionLog.deleted_at),
        ).where(
            col(SessionLog.user_id).in_(sorted({user for user, _ in by_pair})),
            col(SessionLog.program_id).in_(sorted({program for _, program in by_pair})),
        )
    ):
        enrollment_id = by_pair.get((user, program))
        if enrollment_id is not None:
            found[enrollment_id].sessions.append(
                (as_utc(performed), as_utc(updated), deleted is not None)
            )
    for enrollment_id, to_stage, changed_at in ctx.session.exec(
        select(StageChange.enrollment_id, StageChange.to_stage, StageChange.changed_at)
        .where(col(StageChange.enrollment_id).in_([row.id for row in rows]))
        .order_by(col(StageChange.changed_at), col(StageChange.id))
    ):
        found[enrollment_id].moves.append((as_utc(changed_at), to_stage))
    return found


def _stage_at(moves: list[tuple[datetime, int]], moment: datetime, current: int) -> int:
    index = bisect_right([when for when, _ in moves], moment)
    return moves[index - 1][1] if index else (moves[0][1] if moves else current)


def _observation(ctx: FhirContext, row: EnrollmentRow, done: _Activity, start: datetime) -> Json:
    closes = start + WEEK
    if row.completed_at is not None and row.completed_at < closes:
        closes = max(row.completed_at, start)  # the program ended within the week
    closed = closes <= ctx.now or (row.completed_at is not None and row.completed_at <= closes)
    logged = sum(
        1 for performed, _, deleted in done.sessions if not deleted and start <= performed < closes
    )
    touched = [updated for performed, updated, _ in done.sessions if start <= performed < closes]
    touched += [when for when, _ in done.moves if start <= when < closes]
    last_updated = max([*touched, closes if closed else start])
    stage = _stage_at(done.moves, min(closes, ctx.now), row.current_stage)
    prescribed = prescribed_per_week(row.program, stage)
    observation: Json = {
        "resourceType": "Observation",
        "id": adherence_id(row.id, start),
        "meta": {"lastUpdated": instant(min(last_updated, ctx.now))},
        "status": "final" if closed else "preliminary",
        "category": [ACTIVITY_CATEGORY, PHYSICAL_ACTIVITY],
        "code": {**measure("weekly-adherence"), "text": "Weekly adherence"},
        "subject": patient_reference(row.user_id),
        "basedOn": [{"reference": f"CarePlan/{row.id}"}],
        "effectivePeriod": {"start": instant(start), "end": instant(closes)},
        "component": [
            {"code": measure("sessions-logged"), "valueInteger": logged},
            {"code": measure("sessions-prescribed"), "valueInteger": prescribed},
        ],
    }
    if prescribed:
        percent = percent_done(logged, prescribed)
        observation["valueQuantity"] = quantity(percent, "%", "%")
    else:
        observation["dataAbsentReason"] = {
            "coding": [coding(DATA_ABSENT, "not-applicable", "Not Applicable")]
        }
    return observation
