"""QuestionnaireResponse: a linked patient's answers to an outcome instrument.

Every response of a patient linked with live consent, in a program the clinic
may see, keyed by the app's UUID. It names the version it answered
(`questionnaire`: `url|version`), and a stored response never changes, so it
is `completed` and was last updated when it arrived. The answers follow the
version's items in order, each option as the Questionnaire offers it (with an
activity's name under it); the scores the server computed when the response
arrived are the `scores` group's read-only items, a scale left out when too few
of its items were answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import col, select

from app.fhir.codes import Json
from app.fhir.context import Criteria, FhirContext, Key, instant
from app.fhir.outcome import BadRequestError
from app.fhir.registry import ID, LAST_UPDATED, PATIENT, Found, SearchParam, subject_patient
from app.fhir.resources.common import (
    BATCH,
    after_pair,
    enrollment_of,
    first_or_missing,
    patient_reference,
    seen_by_clinic,
)
from app.fhir.resources.questionnaires import (
    NAME_SUFFIX,
    SCORES,
    instrument_url,
    option_coding,
    score_link,
)
from app.outcomes.definition import InstrumentDefinition, Item
from app.outcomes.instruments import definition_of
from app.outcomes.models import Instrument, OutcomeResponse
from app.outcomes.scoring import TOTAL
from app.progress.models import Enrollment

Row = tuple[OutcomeResponse, int | None]  # the response, and its enrollment (the CarePlan)


class QuestionnaireResponseProvider:
    resource_type: str = "QuestionnaireResponse"
    search_params: tuple[SearchParam, ...] = (ID, PATIENT, LAST_UPDATED)
    in_patient_compartment: bool = True

    def read(self, ctx: FhirContext, resource_id: str) -> Json:
        found = [f.resource for f in self.search(ctx, Criteria(ids=(resource_id,)), None)]
        return first_or_missing(found, "questionnaire response")

    def search(self, ctx: FhirContext, criteria: Criteria, after: Key | None) -> Iterator[Found]:
        """By (patient, response id): resumable after any key, however responses arrive."""
        last = _key(after)
        while True:
            rows = _rows(ctx, criteria, last)
            definitions = _definitions(ctx, rows)
            for response, enrollment_id in rows:
                resource = questionnaire_response(
                    response, definitions[response.instrument_id], enrollment_id
                )
                yield Found((response.user_id, response.id), response.user_id, resource)
            if len(rows) < BATCH:
                return
            last = (rows[-1][0].user_id, rows[-1][0].id)

    def patient_of(self, resource: Json) -> int | None:
        return subject_patient(resource)


def _key(after: Key | None) -> tuple[int, str] | None:
    if after is None:
        return None
    if len(after) == 2 and isinstance(after[0], int) and isinstance(after[1], str):
        return after[0], after[1]
    raise BadRequestError("'_cursor' is not a page token for QuestionnaireResponse searches.")


def _rows(ctx: FhirContext, criteria: Criteria, last: tuple[int, str] | None) -> list[Row]:
    query = (
        select(OutcomeResponse, Enrollment.id)
        .outerjoin(
            Enrollment,
            enrollment_of(
                user=col(OutcomeResponse.user_id), program=col(OutcomeResponse.program_id)
            ),
        )
        .where(
            *seen_by_clinic(
                ctx,
                criteria,
                user=col(OutcomeResponse.user_id),
                program=col(OutcomeResponse.program_id),
                updated=col(OutcomeResponse.created_at),
            )
        )
        .order_by(col(OutcomeResponse.user_id), col(OutcomeResponse.id))
        .limit(BATCH)
    )
    if criteria.ids is not None:
        query = query.where(col(OutcomeResponse.id).in_(criteria.ids))
    if last is not None:
        query = query.where(after_pair(col(OutcomeResponse.user_id), col(OutcomeResponse.id), last))
    return list(ctx.session.exec(query))


def _definitions(
    ctx: FhirContext, rows: list[Row]
) -> dict[int, tuple[Instrument, InstrumentDefinition]]:
    """The versions a batch answered, each read once."""
    wanted = sorted({response.instrument_id for response, _ in rows})
    if not wanted:
        return {}
    found = ctx.session.exec(select(Instrument).where(col(Instrument.id).in_(wanted)))
    return {
        instrument.id: (instrument, definition_of(instrument))
        for instrument in found
        if instrument.id is not None
    }


def questionnaire_response(
    response: OutcomeResponse,
    version: tuple[Instrument, InstrumentDefinition],
    enrollment_id: int | None,
) -> Json:
    instrument, definition = version
    patient = patient_reference(response.user_id)
    resource: Json = {
        "resourceType": "QuestionnaireResponse",
        "id": response.id,
        "meta": {"lastUpdated": instant(response.created_at)},
        "questionnaire": f"{instrument_url(instrument.slug)}|{instrument.version}",
        "status": "completed",
        "subject": patient,
        "authored": instant(response.answered_at),
        "author": patient,
        "source": patient,
    }
    if enrollment_id is not None:
        resource["basedOn"] = [{"reference": f"CarePlan/{enrollment_id}"}]
    given = {answer["item"]: answer for answer in response.answers}
    items = [
        _answered(instrument.slug, item, given[item.key])
        for item in definition.items
        if item.key in given
    ]
    scores = _scores(definition, response.scores)
    resource["item"] = [*items, scores] if scores else items
    return resource


def _answered(slug: str, item: Item, answer: dict[str, Any]) -> Json:
    option = next(option for option in item.options if option.value == answer["value"])
    choice: Json = {"valueCoding": option_coding(slug, item, option)}
    if answer.get("label"):
        choice["item"] = [
            {"linkId": item.key + NAME_SUFFIX, "answer": [{"valueString": answer["label"]}]}
        ]
    return {"linkId": item.key, "text": item.text, "answer": [choice]}


def _scores(definition: InstrumentDefinition, scores: dict[str, Any]) -> Json | None:
    scales = [TOTAL, *(subscale.key for subscale in definition.scoring.subscales)]
    items = [
        {"linkId": score_link(key), "answer": [{"valueDecimal": scores[key]["value"]}]}
        for key in scales
        if scores.get(key, {}).get("value") is not None
    ]
    return {"linkId": SCORES, "item": items} if items else None
