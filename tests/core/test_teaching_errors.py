"""Errors that teach: where a body broke, what a route takes, and a page for every type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import PROJECT_ROOT
from app.core.errors import ProblemError
from app.core.pointers import json_pointer
from app.core.problems import PROBLEM_TYPES
from tests.conftest import Person


def test_a_body_that_is_not_json_is_a_400_saying_where_it_broke(
    client: TestClient, member: Person
) -> None:
    body = b'{\n  "display_name": "Ann"\n  "locale": "en"\n}'

    response = client.patch(
        "/v1/me", content=body, headers={**member.headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "/problems/malformed-body"
    assert problem["position"] == body.index(b'"locale"')
    assert "line 3, column 3" in problem["detail"]
    assert "delimiter" in problem["detail"]
    assert client.get("/v1/me", headers=member.headers).json()["display_name"] != "Ann"


def test_json_sent_to_the_token_endpoint_is_told_it_takes_form_fields(
    client: TestClient, member: Person
) -> None:
    response = client.post(
        "/v1/auth/token",
        json={"grant_type": "password", "username": member.email, "password": member.password},
    )

    assert response.status_code == 400
    problem = response.json()
    assert problem["error"] == "invalid_request"
    assert "form fields" in problem["detail"]
    assert "application/x-www-form-urlencoded" in problem["detail"]


def test_the_same_credentials_as_form_fields_sign_in(client: TestClient, member: Person) -> None:
    response = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": member.email, "password": member.password},
    )
    assert response.status_code == 200, response.text


def test_an_unknown_route_has_a_type_and_says_what_was_asked(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")

    problem = response.json()
    assert response.status_code == 404
    assert problem["type"] == "/problems/not-found"
    assert problem["detail"] == "No route matches GET /v1/nothing-here."


def test_a_method_a_path_does_not_take_has_a_type_and_names_those_it_takes(
    client: TestClient,
) -> None:
    response = client.delete("/v1/exercises")

    problem = response.json()
    assert response.status_code == 405
    assert problem["type"] == "/problems/method-not-allowed"
    assert problem["detail"] == "/v1/exercises does not take DELETE; it takes GET."


def test_a_bad_value_deep_in_a_body_is_named_by_a_json_pointer(
    client: TestClient, member: Person
) -> None:
    response = client.post(
        "/v1/me/sessions/sync",
        headers=member.headers,
        json={"sessions": "not a list"},
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["pointer"] == "/sessions"
    assert "parameter" not in error


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (("entries", 0, "pain"), "/entries/0/pain"),
        ((), ""),
        (("a/b", "m~n"), "/a~1b/m~0n"),
    ],
)
def test_json_pointers_follow_rfc_6901(path: tuple[str | int, ...], pointer: str) -> None:
    assert json_pointer(path) == pointer


def _problem_classes() -> list[type[ProblemError]]:
    import app.main  # noqa: F401  (every router, so every problem class is defined)

    found: list[type[ProblemError]] = []
    pending: list[type[ProblemError]] = [ProblemError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_problem_class_and_type_in_the_code_is_registered() -> None:
    in_classes = {cls.type for cls in _problem_classes() if cls.type != "about:blank"}
    literal = re.compile(r'"/problems/([a-z-]+)"')
    in_source = {
        f"/problems/{slug}"
        for path in Path(PROJECT_ROOT / "app").rglob("*.py")
        for slug in literal.findall(path.read_text(encoding="utf-8"))
    }
    registered = {problem.uri for problem in PROBLEM_TYPES.values()}

    assert in_classes
    assert in_classes | in_source <= registered


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
def test_each_problem_type_uri_resolves_to_a_page(client: TestClient, slug: str) -> None:
    problem = PROBLEM_TYPES[slug]

    page = client.get(problem.uri)
    described = client.get(problem.uri, headers={"Accept": "application/json"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert problem.title in page.text
    assert described.json() == {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "description": problem.description,
    }


def test_the_problem_types_are_listed_and_an_unknown_one_is_a_404(client: TestClient) -> None:
    listed = client.get("/problems").json()
    assert {entry["type"] for entry in listed} == {p.uri for p in PROBLEM_TYPES.values()}
    assert client.get("/problems/no-such-problem").status_code == 404


def test_the_type_of_a_real_error_resolves(client: TestClient) -> None:
    problem = client.get("/v1/exercises", params={"limit": "0"}).json()
    assert client.get(problem["type"]).status_code == 200


def test_each_problem_class_answers_the_status_its_page_gives() -> None:
    """The page for a type tells the status an integrator will see with it."""
    pages = {problem.uri: problem for problem in PROBLEM_TYPES.values()}
    wrong = [
        f"{cls.__name__}: {cls.status} answered, {pages[cls.type].status} on its page"
        for cls in _problem_classes()
        if cls.type in pages
        and cls.status != pages[cls.type].status
        and f"{cls.status} for" not in pages[cls.type].description  # "401 for invalid_client"
    ]
    assert wrong == []
