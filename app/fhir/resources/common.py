"""Pieces every provider shares: ids, references, batches."""

from __future__ import annotations

from app.core.errors import NotFoundError
from app.fhir.codes import Json

BATCH = 200  # rows read per statement: bounds memory in searches and exports alike
MAX_INT_ID = 2**31 - 1


def numeric_id(resource_id: str, what: str) -> int:
    """An id this server made from a database key; anything else names nothing (404)."""
    if resource_id.isascii() and resource_id.isdigit() and len(resource_id) <= 10:
        value = int(resource_id)
        if 1 <= value <= MAX_INT_ID:
            return value
    raise NotFoundError(f"No such {what}.")


def patient_reference(patient_id: int) -> Json:
    return {"reference": f"Patient/{patient_id}"}


def first_or_missing(found: list[Json], what: str) -> Json:
    if not found:
        raise NotFoundError(f"No such {what}.")
    return found[0]
