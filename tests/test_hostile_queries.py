"""Hostile query strings get a clear 422, never a 500 (on PostgreSQL a NUL in a text
parameter, or a number past 64 bits, fails in the driver if it gets that far)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.access.policy import Role
from app.core.errors import PROBLEM_MEDIA_TYPE
from tests.conftest import ClinicSetup, Person, PersonFactory, link

pytestmark = pytest.mark.usefixtures("seeded")


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def assert_refused(response: Any, name: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    errors = response.json()["errors"]
    assert any(name == error.get("parameter") for error in errors), response.text


@pytest.mark.parametrize("number", ["9" * 30, str(2**63), "-1"])
def test_a_cursor_past_any_change_number_is_refused(
    client: TestClient, member: Person, clinic: ClinicSetup, number: str
) -> None:
    link(client, clinic, member)
    since = cursor(f"s1:{number}")
    assert_refused(client.get(f"/v1/me/sessions?since={since}", headers=member.headers), "since")
    feed = clinic.path(f"/patients/{member.id}/sessions?since={since}")
    assert_refused(client.get(feed, headers=clinic.owner.headers), "since")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/admin/audit?slug=a%00b", "slug"),
        ("/v1/admin/audit?actor=a%00b@example.com", "actor"),
        ("/v1/admin/exercises?q=a%00b", "q"),
        ("/v1/admin/users?q=a%00b", "q"),
        ("/v1/me/sessions?since=a%00b", "since"),
        ("/v1/me/progress?tz=Europe%00London", "tz"),
    ],
)
def test_a_nul_in_query_text_is_refused(
    client: TestClient, make_person: PersonFactory, path: str, name: str
) -> None:
    admin = make_person(Role.ADMIN)
    assert_refused(client.get(path, headers=admin.headers), name)


def test_every_text_query_parameter_says_in_the_schema_that_nul_is_refused(
    client: TestClient,
) -> None:
    """The rule is in the document, so generated clients and fuzzers know it."""
    document = client.get("/openapi.json").json()
    unguarded = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                schema = parameter["schema"]
                options = schema.get("anyOf", [schema])
                unguarded += [
                    f"{method.upper()} {path} {parameter['name']}"
                    for option in options
                    if option.get("type") == "string"
                    and "pattern" not in option
                    and "enum" not in option
                ]
    assert unguarded == []
