"""Outcome measures over FHIR: instruments as Questionnaires, answers as QuestionnaireResponses.

A clinic's FHIR client reads a patient's answers, resolves the version they
answered by its canonical URL, and finds the options' points and the scores
the server computed, all in the standard's own elements.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ClinicFactory, LinkedPatientFactory, Person
from tests.fhir.conftest import (
    PROGRAM,
    FhirWorld,
    answer_pain_rating,
    bundle_resources,
    fhir_json,
)
from tests.outcomes.conftest import Answer, answered, schedule
from tests.outcomes.synthetic import synthetic
from tests.progress.conftest import enroll

PAIN_RATING = "urn:rehab-api:instrument:pain-rating"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"


def items_by_link(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every item, nested ones too (under items and answers), by linkId."""
    found: dict[str, dict[str, Any]] = {}
    for item in resource.get("item", []):
        found[item["linkId"]] = item
        found |= items_by_link(item)
        for answer in item.get("answer", []):
            found |= items_by_link(answer)
    return found


def test_every_published_instrument_version_is_a_questionnaire_with_scored_options(
    fhir_world: FhirWorld,
) -> None:
    forms = bundle_resources(fhir_world.ok("/Questionnaire"))
    assert sorted(form["url"] for form in forms) == [
        "urn:rehab-api:instrument:functional-scale",
        "urn:rehab-api:instrument:global-change",
        PAIN_RATING,
    ]
    [pain] = [form for form in forms if form["url"] == PAIN_RATING]
    assert (pain["version"], pain["status"]) == ("1", "active")
    worst = items_by_link(pain)["worst"]
    assert (worst["type"], worst["required"]) == ("choice", True)
    for option in worst["answerOption"]:
        [points] = option["extension"]
        assert points == {"url": ORDINAL_VALUE, "valueDecimal": int(option["valueCoding"]["code"])}
    assert worst["answerOption"][0]["valueCoding"]["display"] == "No pain at all"
    scores = items_by_link(pain)
    assert {link: scores[link]["type"] for link in ("score", "score.worst", "score.average")} == {
        "score": "decimal",
        "score.worst": "decimal",
        "score.average": "decimal",
    }


def test_a_response_names_the_version_it_answered_with_its_answers_and_scores(
    fhir_world: FhirWorld,
) -> None:
    [response_id] = fhir_world.responses
    response = fhir_world.ok(f"/QuestionnaireResponse/{response_id}")
    assert response["status"] == "completed"
    assert response["subject"] == {"reference": f"Patient/{fhir_world.patient.id}"}
    assert response["basedOn"][0]["reference"].startswith("CarePlan/")
    url, version = response["questionnaire"].split("|")
    [form] = bundle_resources(fhir_world.ok("/Questionnaire", url=f"{url}|{version}"))
    assert form["version"] == version

    answers = items_by_link(response)
    assert answers["worst"]["answer"][0]["valueCoding"]["code"] == "6"
    assert answers["average"]["answer"][0]["valueCoding"]["code"] == "3"
    assert answers["score"]["answer"] == [{"valueDecimal": 4.5}]  # the mean of 6 and 3
    assert answers["score.worst"]["answer"] == [{"valueDecimal": 6.0}]
    offered = {
        option["valueCoding"]["code"]: option["valueCoding"]
        for option in items_by_link(form)["worst"]["answerOption"]
    }
    assert answers["worst"]["answer"][0]["valueCoding"] == offered["6"]


def test_searches_by_patient_and_canonical_url(fhir_world: FhirWorld) -> None:
    patient = fhir_world.patient.id
    found = bundle_resources(fhir_world.ok("/QuestionnaireResponse", patient=f"Patient/{patient}"))
    assert [r["id"] for r in found] == fhir_world.responses
    assert bundle_resources(fhir_world.ok("/QuestionnaireResponse", patient="999999")) == []
    assert len(bundle_resources(fhir_world.ok("/Questionnaire", url=PAIN_RATING))) == 1
    for nothing in (f"{PAIN_RATING}|9", f"{PAIN_RATING}|x", "http://example.org/pain"):
        assert bundle_resources(fhir_world.ok("/Questionnaire", url=nothing)) == [], nothing


def test_an_activity_the_person_named_is_under_its_answer(fhir_world: FhirWorld) -> None:
    client, patient = fhir_world.client, fhir_world.patient
    asked = schedule(client, fhir_world.clinic, patient, "functional-scale", "at_enrollment")
    labels = {"activity_1": "Stairs", "activity_2": "Kneeling"}
    named = Answer(asked["id"], {"activity_1": 3, "activity_2": 7}, labels)
    response_id = answered(client, patient, named)["id"]

    response = fhir_world.ok(f"/QuestionnaireResponse/{response_id}")
    answers = items_by_link(response)
    assert answers["activity_1.name"]["answer"] == [{"valueString": "Stairs"}]
    assert answers["activity_2.name"]["answer"] == [{"valueString": "Kneeling"}]
    assert "activity_3" not in answers  # not answered: left out, never empty
    [form] = bundle_resources(fhir_world.ok("/Questionnaire", url=response["questionnaire"]))
    assert items_by_link(form)["activity_1.name"]["type"] == "string"


def test_a_draft_is_not_a_questionnaire(fhir_world: FhirWorld, admin: Person) -> None:
    body = {"slug": "synthetic", **synthetic()}
    created = fhir_world.client.post("/v1/admin/instruments", headers=admin.headers, json=body)
    assert created.status_code == 201, created.text
    synthetic_url = "urn:rehab-api:instrument:synthetic"
    assert bundle_resources(fhir_world.ok("/Questionnaire", url=synthetic_url)) == []
    fhir_world.client.post(
        "/v1/admin/instruments/synthetic/versions/1/publish", headers=admin.headers
    )
    [published] = bundle_resources(fhir_world.ok("/Questionnaire", url=synthetic_url))
    assert fhir_world.ok(f"/Questionnaire/{published['id']}")["url"] == synthetic_url


def test_another_clinics_patient_and_a_withdrawn_patient_answer_404(
    fhir_world: FhirWorld,
    client: TestClient,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    other_clinic = make_clinic("Hillside Physio")
    stranger = make_linked_patient(other_clinic)
    enroll(client, stranger, PROGRAM)
    theirs = answer_pain_rating(client, other_clinic, stranger, worst=2, average=1)
    fhir_json(fhir_world.get(f"/QuestionnaireResponse/{theirs}"), 404)
    listed = bundle_resources(fhir_world.ok("/QuestionnaireResponse"))
    assert [r["id"] for r in listed] == fhir_world.responses

    withdrawn = client.delete(
        f"/v1/me/clinic-links/{fhir_world.clinic.id}", headers=fhir_world.patient.headers
    )
    assert withdrawn.status_code == 204
    fhir_json(fhir_world.get(f"/QuestionnaireResponse/{fhir_world.responses[0]}"), 404)
    assert bundle_resources(fhir_world.ok("/QuestionnaireResponse")) == []
