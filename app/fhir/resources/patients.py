"""Patient: a person linked to the clinic with live consent, and only what the clinic knows.

The clinic knows its patients' names and email addresses (it invited them and
lists them); nothing else about the account is shared.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select as columns
from sqlmodel import col

from app.fhir.codes import PATIENT_SYSTEM, Json
from app.fhir.context import Criteria, FhirContext, Key, instant, int_key
from app.fhir.registry import ID, LAST_UPDATED, Found, SearchParam
from app.fhir.resources.common import BATCH, first_or_missing, numeric_id, numeric_ids
from app.identity.models import User


class PatientProvider:
    resource_type: str = "Patient"
    search_params: tuple[SearchParam, ...] = (ID, LAST_UPDATED)
    in_patient_compartment: bool = True

    def read(self, ctx: FhirContext, resource_id: str) -> Json:
        wanted = Criteria(patients=(numeric_id(resource_id, "patient"),))
        return first_or_missing([f.resource for f in self.search(ctx, wanted, None)], "patient")

    def search(self, ctx: FhirContext, criteria: Criteria, after: Key | None) -> Iterator[Found]:
        ids = numeric_ids(criteria.ids)
        last = (int_key(after, 1) or (0,))[0]
        while True:
            query = (
                columns(
                    col(User.id),
                    col(User.display_name),
                    col(User.email),
                    col(User.disabled),
                    col(User.updated_at),
                )
                .where(
                    ctx.linked(col(User.id)),
                    criteria.patient_filter(col(User.id)),
                    criteria.updated.sql(col(User.updated_at)),
                    col(User.id) > last,
                )
                .order_by(col(User.id))
                .limit(BATCH)
            )
            if ids is not None:
                query = query.where(col(User.id).in_(ids))
            rows = ctx.session.execute(query).all()
            for user_id, name, email, disabled, updated_at in rows:
                assert user_id is not None
                yield Found(
                    (user_id,), user_id, _patient(user_id, name, email, disabled, updated_at)
                )
            if len(rows) < BATCH:
                return
            last = rows[-1][0] or last

    def patient_of(self, resource: Json) -> int | None:
        return int(resource["id"])


def _patient(user_id: int, name: str, email: str, disabled: bool, updated_at: object) -> Json:
    return {
        "resourceType": "Patient",
        "id": str(user_id),
        "meta": {"lastUpdated": instant(updated_at)},  # type: ignore[arg-type]
        "identifier": [{"system": PATIENT_SYSTEM, "value": str(user_id)}],
        "active": not disabled,
        "name": [{"text": name}],
        "telecom": [{"system": "email", "value": email}],
    }
