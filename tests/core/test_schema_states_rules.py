"""The OpenAPI document states the rules the routes enforce, so a request the schema
allows is not refused for a rule it never mentioned."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from app.access.policy import Role
from app.catalog.schemas import DosageIn
from app.core.config import Settings
from app.core.deps import DATABASE
from app.core.schemas import TIME_ZONES
from app.main import create_app
from tests.conftest import Person, PersonFactory
from tests.core.test_openapi_document import operations

NUL = "\x00"


@pytest.fixture(scope="module")
def spec(settings: Settings) -> Iterator[dict[str, Any]]:
    app = create_app(settings)
    yield app.openapi()
    DATABASE.of_app(app).dispose()


def _strings(schema: dict[str, Any], at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if schema.get("type") == "string":
        yield at, schema
    for branch in schema.get("anyOf", ()):
        yield from _strings(branch, at)
    if isinstance(schema.get("items"), dict):
        yield from _strings(schema["items"], f"{at}/0")


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"].rsplit("/", 1)[1]
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _request_body_schemas(spec: dict[str, Any]) -> set[str]:
    """Every schema a request body refers to, directly or through another schema (webhook
    bodies are what this API sends, not what it is sent)."""
    found: set[str] = set()
    waiting = [
        ref for _, operation in operations(spec) for ref in _refs(operation.get("requestBody"))
    ]
    while waiting:
        name = waiting.pop()
        if name not in found:
            found.add(name)
            waiting.extend(_refs(spec["components"]["schemas"][name]))
    return found


def test_every_free_text_field_of_a_request_body_refuses_nul_in_its_pattern(
    spec: dict[str, Any],
) -> None:
    inputs = {name: spec["components"]["schemas"][name] for name in _request_body_schemas(spec)}
    assert "RegisterIn" in inputs
    unstated = [
        f"{name}{at}"
        for name, schema in inputs.items()
        for prop, sub in schema.get("properties", {}).items()
        for at, string in _strings(sub, f"/{prop}")
        if not {"format", "enum", "const"} & set(string)
        and (
            "pattern" not in string
            or re.search(string["pattern"], f"a sturdy{NUL} passphrase 42") is not None
        )
    ]
    assert unstated == []


def test_a_new_password_pattern_admits_a_passphrase_and_refuses_spaces_and_nul(
    spec: dict[str, Any],
) -> None:
    pattern = spec["components"]["schemas"]["RegisterIn"]["properties"]["password"]["pattern"]
    assert re.search(pattern, "a sturdy passphrase 42")
    assert not re.search(pattern, " " * 12)
    assert not re.search(pattern, f"a sturdy{NUL}passphrase")


def test_the_token_endpoints_form_fields_refuse_nul_in_their_pattern(
    spec: dict[str, Any],
) -> None:
    form = spec["paths"]["/v1/auth/token"]["post"]["requestBody"]["content"]
    ref = form["application/x-www-form-urlencoded"]["schema"]["$ref"].split("/")[-1]
    fields = spec["components"]["schemas"][ref]["properties"]
    for name in ("username", "password", "client_secret"):
        [string] = [s for _, s in _strings(fields[name], name)]
        assert not re.search(string["pattern"], f"x{NUL}y"), name


def test_every_operation_answering_428_documents_if_match_as_required(
    spec: dict[str, Any],
) -> None:
    answering = [(label, op) for label, op in operations(spec) if "428" in op["responses"]]
    assert any(
        label == "PUT /v1/clinics/{clinic_id}/programs/{program_slug}" for label, _ in answering
    )
    missing = [
        label
        for label, op in answering
        if not any(
            p["in"] == "header" and p["name"].lower() == "if-match" and p.get("required")
            for p in op.get("parameters", [])
        )
    ]
    assert missing == []


def test_every_time_zone_parameter_lists_the_same_iana_names(
    spec: dict[str, Any],
) -> None:
    zones = [
        param
        for _, op in operations(spec)
        for param in op.get("parameters", [])
        if param["name"] == "tz"
    ]
    assert len(zones) >= 2
    assert all(param == zones[0] for param in zones)
    assert "IANA" in zones[0]["description"]
    listed = zones[0]["schema"]["enum"]
    assert {"UTC", "Europe/London", "America/Argentina/Buenos_Aires"} <= set(listed)
    assert "Mars/Base" not in listed


@pytest.mark.parametrize("zone", ["Mars/Base", "Europe/Londn"])
def test_a_well_formed_zone_the_database_lacks_is_refused_naming_tz(
    client: TestClient, member: Person, zone: str
) -> None:
    response = client.get("/v1/me/progress", headers=member.headers, params={"tz": zone})

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["in"], error["parameter"], error["type"]) == ("query", "tz", "time_zone")
    assert "IANA" in error["detail"]


def test_the_dosage_rule_is_an_any_of_in_the_schema_and_enforced(spec: dict[str, Any]) -> None:
    schema = spec["components"]["schemas"]["DosageIn"]
    assert [branch["required"] for branch in schema["anyOf"]] == [["reps"], ["hold_seconds"]]
    DosageIn.model_validate({"exercise": "bridge", "sets": 2, "hold_seconds": 30})
    with pytest.raises(ValidationError, match="reps, hold_seconds or both"):
        DosageIn.model_validate({"exercise": "bridge", "sets": 2})


def test_the_every_days_rule_of_a_schedule_is_an_any_of_in_the_schema(
    spec: dict[str, Any],
) -> None:
    """`every_days` with every_n_days and only with it: what `schedules.create` answers 422
    for, a generator reads from the schema instead of sending."""
    root = {"$ref": "#/components/schemas/ScheduleIn", "components": spec["components"]}
    validator = Draft202012Validator(root)
    base = {"instrument": "koos-jr", "program": "whole-leg-rehabilitation"}

    assert validator.is_valid(base | {"kind": "every_n_days", "every_days": 7})
    assert validator.is_valid(base | {"kind": "at_enrollment"})
    assert validator.is_valid(base | {"kind": "at_stage_change", "every_days": None})
    assert not validator.is_valid(base | {"kind": "every_n_days"})
    assert not validator.is_valid(base | {"kind": "at_enrollment", "every_days": 7})


def _documents(spec: dict[str, Any], method: str, path: str, status: int) -> bool:
    return str(status) in spec["paths"][path][method]["responses"]


def test_linking_before_verifying_the_address_is_a_documented_403(
    client: TestClient, spec: dict[str, Any], make_person: PersonFactory
) -> None:
    unverified = make_person(Role.MEMBER, verified=False)

    response = client.post(
        "/v1/me/clinic-links", headers=unverified.headers, json={"code": "0" * 31}
    )

    assert response.status_code == 403
    assert _documents(spec, "post", "/v1/me/clinic-links", 403)


def test_the_session_feed_of_an_unknown_program_is_a_documented_404(
    client: TestClient, spec: dict[str, Any], member: Person
) -> None:
    response = client.get("/v1/me/sessions", headers=member.headers, params={"program": "nope"})

    assert response.status_code == 404
    assert _documents(spec, "get", "/v1/me/sessions", 404)


def test_every_listed_time_zone_is_one_the_server_can_use() -> None:
    assert len(TIME_ZONES) > 500
    for name in TIME_ZONES:
        ZoneInfo(name)  # raises for a name the server could not compute days in


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("if_match", [None, ""], ids=["missing", "empty"])
def test_a_write_without_a_usable_if_match_is_428(
    client: TestClient, admin: Person, spec: dict[str, Any], if_match: str | None
) -> None:
    path = "/v1/admin/exercises/glute-bridge"
    document = client.get(path, headers=admin.headers).json()
    headers = admin.headers | ({} if if_match is None else {"If-Match": if_match})

    response = client.put(path, headers=headers, json=document | {"name": "Renamed"})

    assert response.status_code == 428
    assert response.json()["type"] == "/problems/precondition-required"
    assert client.get(path, headers=admin.headers).json() == document
    [header] = [
        p
        for p in spec["paths"]["/v1/admin/exercises/{slug}"]["put"]["parameters"]
        if p["name"] == "If-Match"
    ]
    assert header["schema"]["minLength"] == 1
