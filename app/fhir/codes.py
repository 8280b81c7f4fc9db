"""The code systems and codes the FHIR interface speaks, in one place.

Standard terminologies where a code exists (LOINC, SNOMED CT, UCUM, HL7's own
code systems and the Physical Activity IG's temporary codes); this API's own
systems (`urn:rehab-api:...`) for what no standard names: exercises, programs,
difficulty ratings, adherence.
"""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PA_CODES = "http://hl7.org/fhir/us/physical-activity/CodeSystem/pa-temporary-codes"

# This API's own systems: an exercise or program by its slug, a patient by account id.
EXERCISE_SYSTEM = "urn:rehab-api:exercise"
PROGRAM_SYSTEM = "urn:rehab-api:program"
PATIENT_SYSTEM = "urn:rehab-api:patient"
ENROLLMENT_SYSTEM = "urn:rehab-api:enrollment"
DIFFICULTY_SYSTEM = "urn:rehab-api:difficulty"
MEASURE_SYSTEM = "urn:rehab-api:measure"
CURRENT_STAGE_EXTENSION = "urn:rehab-api:extension:current-stage"
# An outcome instrument's canonical URL is this, a colon and its slug.
INSTRUMENT_SYSTEM = "urn:rehab-api:instrument"
# The points an answer option scores (FHIR's core extension for scored options).
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"

Json = dict[str, Any]


def coding(system: str, code: str, display: str | None = None) -> Json:
    found: Json = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(system: str, code: str, display: str, text: str | None = None) -> Json:
    return {"coding": [coding(system, code, display)], "text": text or display}


PAIN = concept(
    LOINC,
    "72514-3",
    "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    "Pain (0-10)",
)
EXERCISE_ACTIVITY = concept(LOINC, "73985-4", "Exercise activity")
EXERCISE_THERAPY = coding(SNOMED, "229065009", "Exercise therapy")
ACTIVITY_CATEGORY = {"coding": [coding(OBSERVATION_CATEGORY, "activity", "Activity")]}
PHYSICAL_ACTIVITY = {"coding": [coding(PA_CODES, "PhysicalActivity", "Physical Activity")]}
PA_PANEL = coding(PA_CODES, "PAPanel", "Physical Activity Panel")

MEASURES = {
    "sets-done": "Sets done",
    "reps-done": "Repetitions done",
    "hold-seconds-done": "Hold time done",
    "difficulty": "Difficulty as rated",
    "exercises-done": "Exercises done",
    "weekly-adherence": "Sessions logged against the prescription, per week",
    "sessions-logged": "Sessions logged",
    "sessions-prescribed": "Sessions prescribed",
}
DIFFICULTIES = {"easy": "Easy", "moderate": "Moderate", "hard": "Hard"}


def measure(code: str) -> Json:
    return concept(MEASURE_SYSTEM, code, MEASURES[code])


def difficulty(code: str) -> Json:
    return concept(DIFFICULTY_SYSTEM, code, DIFFICULTIES.get(code, code))


def quantity(value: float | int, unit: str, code: str) -> Json:
    """A UCUM quantity (`{set}`, `s`, `%`, `{score}`)."""
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def pain_score(value: int) -> Json:
    return quantity(value, "score", "{score}")
