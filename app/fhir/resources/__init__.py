"""The resource types this server serves, in the order $everything and $export give them.

A new type is one more provider here; nothing else changes (see `app.fhir.registry`).
"""

from __future__ import annotations

from app.fhir.registry import Registry
from app.fhir.resources.observations import ObservationProvider
from app.fhir.resources.patients import PatientProvider
from app.fhir.resources.plans import CarePlanProvider, ServiceRequestProvider
from app.fhir.resources.questionnaires import QuestionnaireProvider
from app.fhir.resources.responses import QuestionnaireResponseProvider

REGISTRY = Registry(
    [
        PatientProvider(),
        CarePlanProvider(),
        ServiceRequestProvider(),
        ObservationProvider(),
        QuestionnaireProvider(),
        QuestionnaireResponseProvider(),
    ]
)
