"""Every admin route, enumerated from the app: anonymous 401, everyone but an admin 403."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.access.policy import Role
from app.main import create_app
from tests.authoring.conftest import ADMIN
from tests.conftest import ClinicSetup, PersonFactory, add_staff, api_client_token

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
VALUES = {"slug": "hip-plan", "position": "1", "user_id": "1", "version": "1"}


def admin_routes() -> list[tuple[str, str]]:
    """(method, path) of every route under /v1/admin, with path parameters filled in."""
    app = create_app()
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if path.startswith(ADMIN):
            concrete = PARAM.sub(lambda m: VALUES[m.group(1)], path)
            found.extend((method, concrete) for method in sorted(route.methods or ()))
    return found


ROUTES = admin_routes()


def test_the_enumeration_finds_every_kind_of_admin_route() -> None:
    paths = {path for _, path in ROUTES}
    assert {
        f"{ADMIN}/conditions",
        f"{ADMIN}/exercises/hip-plan/video",
        f"{ADMIN}/programs/hip-plan/stages/1",
        f"{ADMIN}/audit",
    } <= paths
    assert len(ROUTES) >= 22


def test_anonymous_callers_get_401_with_a_bearer_challenge_on_every_route(
    client: TestClient,
) -> None:
    answers = {(method, path): client.request(method, path, json={}) for method, path in ROUTES}
    assert {call: r.status_code for call, r in answers.items() if r.status_code != 401} == {}
    assert all(r.headers["www-authenticate"].startswith("Bearer") for r in answers.values())
    assert all(r.headers["content-type"] == "application/problem+json" for r in answers.values())


@pytest.fixture
def outsiders(client: TestClient, make_person: PersonFactory) -> dict[str, dict[str, str]]:
    """Bearer headers of everyone but admins: member, clinician, clinic owner, API client."""
    admin = make_person(Role.ADMIN)
    owner = make_person()
    made = client.post("/v1/clinics", headers=admin.headers, json={"name": "Hip Clinic"})
    clinic = ClinicSetup(id=made.json()["id"], owner=owner)
    add_staff(client, clinic.id, admin.headers, owner, "owner")
    return {
        "member": make_person(Role.MEMBER).headers,
        "clinician": make_person(Role.CLINICIAN).headers,
        "clinic owner": owner.headers,
        "API client": api_client_token(client, clinic, ["patients:read", "programs:write"]),
    }


def test_members_clinicians_and_api_clients_get_403_on_every_route(
    client: TestClient, outsiders: dict[str, dict[str, str]]
) -> None:
    refused = {
        (who, method, path): client.request(method, path, headers=headers, json={})
        for who, headers in outsiders.items()
        for method, path in ROUTES
    }
    wrong = {call: r.status_code for call, r in refused.items() if r.status_code != 403}
    assert wrong == {}
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused.values())


def test_a_forged_token_is_401_not_403(client: TestClient) -> None:
    response = client.get(f"{ADMIN}/audit", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401
