"""The resource types this server serves, in the order $everything and $export give them.

Questionnaire and QuestionnaireResponse (the outcome instruments) join as two
more providers here; nothing else changes (see `app.fhir.registry`).
"""

from __future__ import annotations

from app.fhir.registry import Registry
from app.fhir.resources.observations import ObservationProvider
from app.fhir.resources.patients import PatientProvider
from app.fhir.resources.plans import CarePlanProvider, ServiceRequestProvider

REGISTRY = Registry(
    [PatientProvider(), CarePlanProvider(), ServiceRequestProvider(), ObservationProvider()]
)
