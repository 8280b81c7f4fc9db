"""Pieces every provider shares: ids, references, batches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col

from app.core.errors import NotFoundError
from app.fhir.codes import Json
from app.fhir.context import Criteria, FhirContext
from app.progress.models import Enrollment

BATCH = 200  # rows read per statement: bounds memory in searches and exports alike
MAX_INT_ID = 2**31 - 1


def _database_key(resource_id: str) -> int | None:
    if resource_id.isascii() and resource_id.isdigit() and len(resource_id) <= 10:
        value = int(resource_id)
        if 1 <= value <= MAX_INT_ID:
            return value
    return None


def numeric_id(resource_id: str, what: str) -> int:
    """An id this server made from a database key; anything else names nothing (404)."""
    value = _database_key(resource_id)
    if value is None:
        raise NotFoundError(f"No such {what}.")
    return value


def numeric_ids(ids: tuple[str, ...] | None) -> list[int] | None:
    """`_id` values as database keys (None: no `_id` asked); any other id matches nothing."""
    if ids is None:
        return None
    return [value for value in map(_database_key, ids) if value is not None]


def patient_reference(patient_id: int) -> Json:
    return {"reference": f"Patient/{patient_id}"}


def first_or_missing(found: list[Json], what: str) -> Json:
    if not found:
        raise NotFoundError(f"No such {what}.")
    return found[0]


def seen_by_clinic(
    ctx: FhirContext, criteria: Criteria, *, user: Any, program: Any, updated: Any
) -> tuple[ColumnElement[bool], ...]:
    """A row about a person in a program, as the clinic may see it and the search asks: the
    person linked with live consent, the program in the clinic's scope, the patients asked
    for, changed when asked (columns: `col(Model.user_id)` and so on)."""
    return (
        ctx.linked(user),
        ctx.scope.rows(program),
        criteria.patient_filter(user),
        criteria.updated.sql(updated),
    )


def enrollment_of(*, user: Any, program: Any) -> ColumnElement[bool]:
    """The join condition to the person's enrollment in the row's program (its CarePlan)."""
    return and_(col(Enrollment.user_id) == user, col(Enrollment.program_id) == program)


def after_pair(first: Any, second: Any, last: tuple[Any, Any]) -> ColumnElement[bool]:
    """Rows after `last` in (first, second) order: where a page or batch resumes."""
    return or_(first > last[0], and_(first == last[0], second > last[1]))
