"""The OpenAPI document is what client generators, schemathesis and /docs read: it must be
a valid OpenAPI 3.1 document, and it must tell a client every way a call can fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.clinics.event_schemas import PING
from app.clinics.models import EventType, Scope
from app.core.config import Settings
from app.core.deps import DATABASE
from app.main import create_app

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
DOCUMENT_URI = "urn:rehab-api:openapi"


@pytest.fixture(scope="module")
def spec(settings: Settings) -> Iterator[dict[str, Any]]:
    app = create_app(settings)
    yield app.openapi()
    DATABASE.of_app(app).dispose()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every operation with a label such as `GET /v1/me` for assertion messages."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def test_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in OpenAPIV31SpecValidator(spec).iter_errors()
    ]
    assert errors == []


def test_every_operation_has_its_own_operation_id(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, operation in operations(spec)]
    assert None not in ids
    duplicates = {op_id for op_id in ids if ids.count(op_id) > 1}
    assert duplicates == set()


def test_every_schema_example_is_valid_against_its_schema(spec: dict[str, Any]) -> None:
    """Examples are what people copy from /docs: each one must be accepted by its schema."""
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    failures: list[str] = []
    checked = 0
    for name, schema in spec["components"]["schemas"].items():
        validator = Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"}, registry=registry
        )
        for example in schema.get("examples", []):
            checked += 1
            failures += [f"{name}: {error.message}" for error in validator.iter_errors(example)]
    assert checked >= 5
    assert failures == []


def discriminators(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "discriminator" in node:
            yield node["discriminator"]
        for value in node.values():
            yield from discriminators(value)
    elif isinstance(node, list):
        for value in node:
            yield from discriminators(value)


def test_every_discriminator_is_a_required_string_of_each_variant(spec: dict[str, Any]) -> None:
    """Generated clients narrow a union on its discriminator (`access`): a variant that calls
    it optional cannot be narrowed, and a non-string one is typed as the mapping's string."""
    schemas = spec["components"]["schemas"]
    found = list(discriminators(spec))
    assert any(discriminator["propertyName"] == "access" for discriminator in found)
    wrong: set[str] = set()
    for discriminator in found:
        name = discriminator["propertyName"]
        for ref in discriminator["mapping"].values():
            variant = schemas[ref.rsplit("/", 1)[1]]
            if name not in variant.get("required", []) or (
                variant["properties"][name].get("type") != "string"
            ):
                wrong.add(f"{variant['title']}.{name}")
    assert wrong == set()


def test_every_operation_documents_a_success_response(spec: dict[str, Any]) -> None:
    missing = [
        label
        for label, operation in operations(spec)
        if not any(status.startswith("2") for status in operation["responses"])
    ]
    assert missing == []


def test_operations_that_take_a_token_document_401(spec: dict[str, Any]) -> None:
    missing = [
        label
        for label, operation in operations(spec)
        if operation.get("security") and "401" not in operation["responses"]
    ]
    assert missing == []


def test_operations_that_take_input_document_422(spec: dict[str, Any]) -> None:
    missing = [
        label
        for label, operation in operations(spec)
        if (operation.get("parameters") or operation.get("requestBody"))
        and "422" not in operation["responses"]
    ]
    assert missing == []


def test_operations_on_a_named_resource_document_404(spec: dict[str, Any]) -> None:
    missing = [
        label
        for label, operation in operations(spec)
        if any(parameter["in"] == "path" for parameter in operation.get("parameters", []))
        and "404" not in operation["responses"]
    ]
    assert missing == []


def test_every_error_response_is_a_problem_document(spec: dict[str, Any]) -> None:
    wrong: list[str] = []
    for label, operation in operations(spec):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            expected = "ValidationProblem" if status == "422" else "Problem"
            content = response.get("content", {})
            schema = content.get("application/problem+json", {}).get("schema", {})
            if list(content) != ["application/problem+json"] or schema.get("$ref") != (
                f"#/components/schemas/{expected}"
            ):
                wrong.append(f"{label} {status}")
    assert wrong == []


def test_every_tag_used_is_declared_and_every_declared_tag_is_used(spec: dict[str, Any]) -> None:
    declared = [tag["name"] for tag in spec["tags"]]
    used = {tag for _, operation in operations(spec) for tag in operation.get("tags", [])}
    used |= {tag for item in spec["webhooks"].values() for tag in item["post"]["tags"]}
    assert sorted(used) == sorted(declared)


def test_clinic_routes_are_grouped_by_what_they_hold(spec: dict[str, Any]) -> None:
    """One `clinics` tag held every clinic route; each sub-resource now has its own."""
    clinic_tags: dict[str, set[str]] = {}
    for label, operation in operations(spec):
        if label.split(" ")[1].startswith("/v1/clinics/{clinic_id}/"):
            for tag in operation["tags"]:
                clinic_tags.setdefault(tag, set()).add(label)
    assert set(clinic_tags) == {
        "clinics",
        "clinic staff",
        "clinic patients",
        "clinic outcomes",
        "clinic programs",
        "clinic API clients",
        "clinic webhooks",
        "clinic access log",
    }
    assert max(len(labels) for labels in clinic_tags.values()) <= 15


def test_both_oauth2_flows_are_documented_with_every_api_client_scope(
    spec: dict[str, Any],
) -> None:
    [scheme] = spec["components"]["securitySchemes"].values()
    flows = scheme["flows"]
    assert flows["password"]["tokenUrl"] == flows["clientCredentials"]["tokenUrl"]
    assert sorted(flows["clientCredentials"]["scopes"]) == sorted(scope.value for scope in Scope)


def test_the_webhooks_section_has_every_event_with_its_signature_headers(
    spec: dict[str, Any],
) -> None:
    assert sorted(spec["webhooks"]) == sorted([*(event.value for event in EventType), PING])
    for event_type, item in spec["webhooks"].items():
        operation = item["post"]
        assert {parameter["name"] for parameter in operation["parameters"]} == {
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        }, event_type
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert body["properties"]["type"]["const"] == event_type


def test_each_error_response_shows_an_example_of_its_own_status(spec: dict[str, Any]) -> None:
    """/docs showed the same 404 example under every error status."""
    wrong = []
    for label, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                example = response["content"]["application/problem+json"].get("example", {})
                if example.get("status") != int(status) or not example.get("type"):
                    wrong.append(f"{label} {status}")
    assert wrong == []


def test_every_operation_has_a_description(spec: dict[str, Any]) -> None:
    undescribed = [
        label for label, operation in operations(spec) if not operation.get("description")
    ]
    assert undescribed == []
