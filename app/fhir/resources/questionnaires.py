"""Questionnaire: every published version of an outcome instrument, as a form to fill in.

A version is one Questionnaire (a draft is nobody's business yet): its canonical
`url` is `urn:rehab-api:instrument:<slug>` with the `version`, which is what a
QuestionnaireResponse names, and `url` search takes either (`url|version`).
Each item is a `choice` whose options carry their points in FHIR's own
`ordinalValue` extension; an item the person names (an activity they find hard)
has a `string` item under it for that name. The scores this server computes
come last, as read-only `decimal` items in a `scores` group, so a response
carries them where a form reader looks for them.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import col, select

from app.fhir.codes import INSTRUMENT_SYSTEM, ORDINAL_VALUE, Json, coding
from app.fhir.context import Criteria, FhirContext, Key, instant, int_key
from app.fhir.registry import ID, LAST_UPDATED, Found, SearchParam
from app.fhir.resources.common import BATCH, first_or_missing, numeric_id, numeric_ids
from app.outcomes.definition import AnswerOption, InstrumentDefinition, Item
from app.outcomes.instruments import definition_of
from app.outcomes.models import Instrument, InstrumentStatus
from app.outcomes.scoring import TOTAL

URL = SearchParam(
    "url",
    "uri",
    "http://hl7.org/fhir/SearchParameter/conformance-url",
    "The canonical URL, `urn:rehab-api:instrument:<slug>`, alone (every version) or with "
    "`|version` (comma: any of).",
)
SCORES = "scores"
NAME_SUFFIX = ".name"


def instrument_url(slug: str) -> str:
    return f"{INSTRUMENT_SYSTEM}:{slug}"


def score_link(scale: str) -> str:
    """The linkId of a computed score: `score` for the total, `score.<key>` for a subscale."""
    return "score" if scale == TOTAL else f"score.{scale}"


def option_coding(slug: str, item: Item, option: AnswerOption) -> Json:
    """An answer option as a Coding: its points as the code, in the item's own system."""
    return coding(f"{instrument_url(slug)}:{item.key}", str(option.value), option.label)


class QuestionnaireProvider:
    resource_type: str = "Questionnaire"
    search_params: tuple[SearchParam, ...] = (ID, URL, LAST_UPDATED)
    in_patient_compartment: bool = False

    def read(self, ctx: FhirContext, resource_id: str) -> Json:
        wanted = Criteria(ids=(str(numeric_id(resource_id, "questionnaire")),))
        found = [f.resource for f in self.search(ctx, wanted, None)]
        return first_or_missing(found, "questionnaire")

    def search(self, ctx: FhirContext, criteria: Criteria, after: Key | None) -> Iterator[Found]:
        last = (int_key(after, 1) or (0,))[0]
        while True:
            query = (
                select(Instrument)
                .where(
                    col(Instrument.status) == InstrumentStatus.PUBLISHED,
                    criteria.updated.sql(col(Instrument.published_at)),
                    col(Instrument.id) > last,
                )
                .order_by(col(Instrument.id))
                .limit(BATCH)
            )
            ids = numeric_ids(criteria.ids)
            if ids is not None:
                query = query.where(col(Instrument.id).in_(ids))
            if criteria.urls is not None:
                query = query.where(or_(*_canonical_conditions(criteria.urls)))
            rows = list(ctx.session.exec(query))
            for instrument in rows:
                assert instrument.id is not None
                yield Found((instrument.id,), None, questionnaire(instrument))
            if len(rows) < BATCH:
                return
            last = rows[-1].id or last

    def patient_of(self, resource: Json) -> int | None:
        return None


def _canonical_conditions(urls: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """`urn:rehab-api:instrument:<slug>` (any version) or with `|<version>`; any other URL
    names nothing here (so none of them leaves a false condition)."""
    conditions: list[ColumnElement[bool]] = [false()]
    prefix = INSTRUMENT_SYSTEM + ":"
    for url in urls:
        canonical, _, version = url.partition("|")
        if not canonical.startswith(prefix):
            continue
        condition = col(Instrument.slug) == canonical.removeprefix(prefix)
        if version:
            if not (version.isascii() and version.isdigit() and len(version) <= 9):
                continue
            condition = and_(condition, col(Instrument.version) == int(version))
        conditions.append(condition)
    return conditions


def questionnaire(instrument: Instrument) -> Json:
    definition = definition_of(instrument)
    published = instant(instrument.published_at or instrument.created_at)
    resource: Json = {
        "resourceType": "Questionnaire",
        "id": str(instrument.id),
        "meta": {"lastUpdated": published},
        "url": instrument_url(instrument.slug),
        "version": str(instrument.version),
        "title": definition.title,
        "status": "active",
        "subjectType": ["Patient"],
        "date": published,
    }
    if definition.description:
        resource["description"] = definition.description
    items = [_question(instrument.slug, item) for item in definition.items]
    resource["item"] = [*items, _scores_group(definition)]
    return resource


def _question(slug: str, item: Item) -> Json:
    question: Json = {
        "linkId": item.key,
        "text": item.text,
        "type": "choice",
        "required": item.required,
        "answerOption": [
            {
                "extension": [{"url": ORDINAL_VALUE, "valueDecimal": option.value}],
                "valueCoding": option_coding(slug, item, option),
            }
            for option in item.options
        ],
    }
    if item.named_by_person:
        question["item"] = [
            {
                "linkId": item.key + NAME_SUFFIX,
                "text": "The activity, in the person's own words",
                "type": "string",
                "required": True,
            }
        ]
    return question


def _scores_group(definition: InstrumentDefinition) -> Json:
    scales = [(TOTAL, "Total score")] + [
        (subscale.key, subscale.title) for subscale in definition.scoring.subscales
    ]
    return {
        "linkId": SCORES,
        "text": "Scores, computed by the server from the answers",
        "type": "group",
        "readOnly": True,
        "item": [
            {"linkId": score_link(key), "text": title, "type": "decimal", "readOnly": True}
            for key, title in scales
        ],
    }
