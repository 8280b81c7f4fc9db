"""What every FHIR read is made in: one clinic, its visibility filter, a moment, a catalogue.

No FastAPI here. A `FhirContext` is the only way a resource provider reaches
the database, and it carries the clinic's `ProgramScope` (the one visibility
filter) and the live-consent condition: a provider cannot forget either.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, true
from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot
from app.clinics.models import PatientLink
from app.core.models import as_utc
from app.fhir.outcome import BadRequestError
from app.progress.scope import ProgramScope

Key = tuple[int | str, ...]
MAX_CURSOR_CHARS = 512


@dataclass(frozen=True, slots=True)
class FhirContext:
    """One clinic's view, in one database session, at one moment."""

    session: Session
    clinic_id: int
    clinic_name: str
    snapshot: CatalogSnapshot
    now: datetime
    api_root: str  # scheme://host of this API, for absolute links

    @property
    def scope(self) -> ProgramScope:
        return ProgramScope.of_clinic(self.clinic_id)

    def linked(self, user_id: Any) -> ColumnElement[bool]:
        """The SQL condition: this row's person (`col(Model.user_id)`) is linked to the clinic
        with live consent, as of this statement (a withdrawal shows at once)."""
        live = select(col(PatientLink.patient_id)).where(
            PatientLink.clinic_id == self.clinic_id, col(PatientLink.revoked_at).is_(None)
        )
        return user_id.in_(live)  # type: ignore[no-any-return]


def still_linked(session: Session, clinic_id: int, patient_ids: Sequence[int]) -> set[int]:
    """Which of these people are linked to the clinic with live consent right now."""
    if not patient_ids:
        return set()
    rows = session.exec(
        select(PatientLink.patient_id).where(
            PatientLink.clinic_id == clinic_id,
            col(PatientLink.revoked_at).is_(None),
            col(PatientLink.patient_id).in_(sorted(set(patient_ids))),
        )
    )
    return set(rows)


@dataclass(frozen=True, slots=True)
class Updated:
    """When a resource last changed must fall in [lower, upper): `_lastUpdated`, `_since`."""

    lower: datetime | None = None
    upper: datetime | None = None

    def narrowed(self, lower: datetime | None = None, upper: datetime | None = None) -> Updated:
        lowers = [moment for moment in (self.lower, lower) if moment is not None]
        uppers = [moment for moment in (self.upper, upper) if moment is not None]
        return Updated(max(lowers) if lowers else None, min(uppers) if uppers else None)

    def sql(self, column: Any) -> ColumnElement[bool]:
        conditions = []
        if self.lower is not None:
            conditions.append(column >= self.lower)
        if self.upper is not None:
            conditions.append(column < self.upper)
        return and_(*conditions) if conditions else true()

    def admits(self, moment: datetime) -> bool:
        moment = as_utc(moment)
        return (self.lower is None or moment >= self.lower) and (
            self.upper is None or moment < self.upper
        )


ANY_TIME = Updated()


@dataclass(frozen=True, slots=True)
class Criteria:
    """What a search asks for, already resolved: whose resources, which ids, changed when."""

    patients: tuple[int, ...] | None = None  # None: every linked patient
    ids: tuple[str, ...] | None = None  # `_id`
    urls: tuple[str, ...] | None = None  # `url`: canonical URLs, each maybe with `|version`
    updated: Updated = field(default=ANY_TIME)

    def patient_filter(self, user_id: Any) -> ColumnElement[bool]:
        if self.patients is None:
            return true()
        return user_id.in_(self.patients)  # type: ignore[no-any-return]


def instant(moment: datetime) -> str:
    """A FHIR instant: UTC, milliseconds, `Z`."""
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(key: Key) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def _key_part(part: object) -> bool:
    if isinstance(part, bool):
        return False
    if isinstance(part, int):
        return abs(part) < 2**53
    return isinstance(part, str) and len(part) <= 64


def int_key(after: Key | None, length: int) -> tuple[int, ...] | None:
    """A page key of `length` whole numbers, as the provider that made it reads it; 400 else."""
    if after is None:
        return None
    if len(after) != length or not all(isinstance(part, int) for part in after):
        raise BadRequestError("'_cursor' is not a page token for this search.")
    return tuple(int(part) for part in after)


def decode_cursor(token: str) -> Key:
    """A page token from a `next` link; anything else is a 400."""
    try:
        if len(token) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        value = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(value, list) or not 1 <= len(value) <= 8:
            raise ValueError("not a key")
        if not all(_key_part(part) for part in value):
            raise ValueError("not a key")
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadRequestError("'_cursor' is not a page token from this server.") from exc
    return tuple(value)
