"""Docs work offline: no external host in the HTML, assets served by the app itself."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_html_names_no_external_host(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert URL.findall(response.text) == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_every_asset_the_docs_load_is_served(client: TestClient, path: str) -> None:
    html = client.get(path).text
    assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html)
    assets += re.findall(r"""url: ?["']([^"']+)["']""", html)
    assert assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_swagger_oauth2_redirect_is_served(client: TestClient) -> None:
    assert client.get("/docs/oauth2-redirect").status_code == 200


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in spec["paths"].values() for op in path.values()]


def test_operation_ids_are_clean_snake_case(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for op in operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", op_id) for op_id in ids), ids
    assert {"list_conditions", "get_program", "list_exercises", "get_exercise"} <= set(ids)


def test_every_tag_used_is_described(spec: dict[str, Any]) -> None:
    described = {tag["name"]: tag.get("description") for tag in spec["tags"]}
    for op in operations(spec):
        for tag in op["tags"]:
            assert described.get(tag), tag


def test_exercise_is_a_oneof_discriminated_on_access(spec: dict[str, Any]) -> None:
    schema = spec["paths"]["/v1/exercises/{slug}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert schema["discriminator"]["propertyName"] == "access"
    refs = {option["$ref"].rsplit("/", 1)[1] for option in schema["oneOf"]}
    assert refs == {"ExerciseLocked", "ExerciseUnlocked"}
    locked = spec["components"]["schemas"]["ExerciseLocked"]["properties"]
    assert "lock" in locked
    assert not {"video", "instructions", "cues", "mistakes"} & locked.keys()


def test_catalogue_errors_are_documented_as_problem_json(spec: dict[str, Any]) -> None:
    catalogue = ("/v1/conditions", "/v1/programs", "/v1/exercises")
    for path, item in spec["paths"].items():
        if not path.startswith(catalogue):
            continue
        responses = item["get"]["responses"]
        assert "422" in responses, path
        if "{slug}" in path:
            assert "404" in responses, path
        for status in ("404", "422"):
            if status in responses:
                content = responses[status]["content"]
                assert list(content) == ["application/problem+json"], (path, status)
    assert "Problem" in spec["components"]["schemas"]
    assert "ValidationProblem" in spec["components"]["schemas"]


def test_main_schemas_carry_examples(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("ExerciseLocked", "ProgramDetail", "ConditionDetail", "Problem"):
        assert schemas[name].get("examples"), name
