"""The CapabilityStatement is the FHIR interface's contract, and it tells the truth.

The FHIR routes are kept out of the OpenAPI document (their answers are FHIR
resources and OperationOutcomes, not this API's JSON and problem documents);
`metadata` describes them instead. Here every type, interaction, search
parameter and operation it lists is used and answers, and every FHIR route the
app serves is one it accounts for.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.fhir.conftest import FhirWorld, bundle_resources, fhir_json

BASE = "/v1/clinics/{clinic_id}/fhir/R4"


def test_every_listed_interaction_and_parameter_answers(fhir_world: FhirWorld) -> None:
    statement = fhir_world.ok("/metadata")
    strict = {**fhir_world.headers, "Prefer": "handling=strict"}
    for resource in statement["rest"][0]["resource"]:
        kind = resource["type"]
        assert {i["code"] for i in resource["interaction"]} == {"read", "search-type"}
        found = bundle_resources(fhir_world.ok(f"/{kind}"))
        assert found, f"no {kind} in the world: extend the fixture"
        assert fhir_world.ok(f"/{kind}/{found[0]['id']}")["id"] == found[0]["id"]
        examples = {
            "_lastUpdated": "ge2000-01-01",
            "_id": found[0]["id"],
            "patient": str(fhir_world.patient.id),
            "url": found[0].get("url", ""),
        }
        for param in resource["searchParam"]:
            value = examples[param["name"]]
            response = fhir_world.get(f"/{kind}", headers=strict, **{param["name"]: value})
            assert bundle_resources(fhir_json(response)), f"{kind}?{param['name']}={value}"
        for operation in resource.get("operation", []):
            answer = operation_answer(fhir_world, kind, operation["name"])
            assert answer.status_code in (200, 202), answer.text
            fhir_json(answer, answer.status_code)


def operation_answer(world: FhirWorld, kind: str, name: str) -> Any:
    if name == "everything":
        return world.get(f"/{kind}/{world.patient.id}/$everything")
    return world.get(f"/{kind}/${name}")


def test_a_type_or_parameter_not_listed_is_refused(fhir_world: FhirWorld) -> None:
    statement = fhir_world.ok("/metadata")
    listed = {r["type"] for r in statement["rest"][0]["resource"]}
    for kind in ("Practitioner", "Condition", "Questionnaire", "Encounter"):
        if kind not in listed:
            assert fhir_json(fhir_world.get(f"/{kind}"), 404)
    strict = {**fhir_world.headers, "Prefer": "handling=strict"}
    assert fhir_json(fhir_world.get("/Patient", headers=strict, patient="1"), 400)


def test_the_routes_are_the_ones_the_statement_accounts_for(client: TestClient) -> None:
    served = {
        (method, route.path)
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        for method in route.methods or ()
        if "/fhir" in (route.path or "")
    }
    assert served == {
        ("GET", f"{BASE}/metadata"),
        ("GET", f"{BASE}/{{resource_type}}"),  # search-type
        ("GET", f"{BASE}/{{resource_type}}/{{resource_id}}"),  # read
        ("GET", f"{BASE}/Patient/{{resource_id}}/$everything"),
        ("GET", f"{BASE}/Patient/$export"),
        ("GET", f"{BASE}/$export-status/{{job_id}}"),  # Bulk Data polling
        ("DELETE", f"{BASE}/$export-status/{{job_id}}"),  # and cancelling
        ("GET", "/v1/fhir-exports/{job_id}/{file_name}"),  # the manifest's file links
        ("GET", f"{BASE}/{{rest:path}}"),  # anything else: a 404 OperationOutcome
    }


def test_fhir_routes_are_kept_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if "fhir" in path]
