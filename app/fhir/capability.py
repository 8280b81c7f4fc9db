"""The CapabilityStatement: exactly what this server does, built from the registry."""

from __future__ import annotations

from app.fhir.codes import Json, coding
from app.fhir.registry import Registry
from app.fhir.search import DEFAULT_COUNT, MAX_COUNT

FHIR_VERSION = "4.0.1"
PUBLISHED = "2026-12-03"
EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
PATIENT_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
SECURITY = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def capability_statement(registry: Registry, *, base: str, clinic_name: str) -> Json:
    resources: list[Json] = []
    for provider in registry.providers:
        entry: Json = {
            "type": provider.resource_type,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {
                    "name": param.name,
                    "definition": param.definition,
                    "type": param.type,
                    "documentation": param.documentation,
                }
                for param in provider.search_params
            ],
        }
        if provider.resource_type == "Patient":
            entry["operation"] = [
                {"name": "everything", "definition": EVERYTHING},
                {"name": "export", "definition": PATIENT_EXPORT},
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "Rehab API",
        "kind": "instance",
        "software": {"name": "Rehab API", "version": "1.0.0"},
        "implementation": {"description": f"{clinic_name}: its linked patients", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only. Searches page with `_count` (default "
                    f"{DEFAULT_COUNT}, at most {MAX_COUNT}) and `next` links; unknown "
                    "parameters are ignored unless `Prefer: handling=strict`. "
                    "Patient/{id}/$everything takes `_since`, `_type` and `_count`; "
                    "Patient/$export takes `_type`, `_since` and `_outputFormat`."
                ),
                "security": {
                    "service": [{"coding": [coding(SECURITY, "OAuth", "OAuth")]}],
                    "description": (
                        "Bearer tokens from /v1/auth/token: an API client's "
                        "(client_credentials, scope fhir:read) or a clinician's sign-in."
                    ),
                },
                "resource": resources,
            }
        ],
    }
