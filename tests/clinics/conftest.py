"""Clinic fixtures: an admin, a clinic with an owner, linked patients and API clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.access.policy import Role
from tests.conftest import Person, PersonFactory


@dataclass
class ClinicSetup:
    id: int
    owner: Person

    def path(self, suffix: str = "") -> str:
        return f"/v1/clinics/{self.id}{suffix}"


@pytest.fixture
def admin(make_person: PersonFactory) -> Person:
    return make_person(Role.ADMIN)


ClinicFactory = Callable[..., ClinicSetup]


@pytest.fixture
def make_clinic(client: TestClient, admin: Person, make_person: PersonFactory) -> ClinicFactory:
    """A clinic made by the admin, with a freshly registered owner."""

    def make(name: str = "Hip Clinic") -> ClinicSetup:
        created = client.post("/v1/clinics", headers=admin.headers, json={"name": name})
        assert created.status_code == 201, created.text
        owner = make_person()
        added = client.post(
            f"/v1/clinics/{created.json()['id']}/members",
            headers=admin.headers,
            json={"email": owner.email, "role": "owner"},
        )
        assert added.status_code == 201, added.text
        return ClinicSetup(id=created.json()["id"], owner=owner)

    return make


@pytest.fixture
def clinic(make_clinic: ClinicFactory) -> ClinicSetup:
    return make_clinic()


def invite(client: TestClient, clinic: ClinicSetup) -> str:
    response = client.post(clinic.path("/invitations"), headers=clinic.owner.headers)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


def link(client: TestClient, clinic: ClinicSetup, patient: Person) -> None:
    response = client.post(
        "/v1/me/clinic-links", headers=patient.headers, json={"code": invite(client, clinic)}
    )
    assert response.status_code == 201, response.text


LinkedPatientFactory = Callable[[ClinicSetup], Person]


@pytest.fixture
def make_linked_patient(client: TestClient, make_person: PersonFactory) -> LinkedPatientFactory:
    def make(clinic: ClinicSetup) -> Person:
        patient = make_person()
        link(client, clinic, patient)
        return patient

    return make


def create_api_client(
    client: TestClient, clinic: ClinicSetup, scopes: list[str]
) -> tuple[int, dict[str, str]]:
    """Create an API client with `scopes`; return its id and bearer headers for its token."""
    created = client.post(
        clinic.path("/api-clients"),
        headers=clinic.owner.headers,
        json={"name": "Practice system", "scopes": scopes},
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    token = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["client_id"],
            "client_secret": body["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    api_client_id: int = body["id"]
    return api_client_id, {"Authorization": f"Bearer {token.json()['access_token']}"}


def api_client_token(client: TestClient, clinic: ClinicSetup, scopes: list[str]) -> dict[str, str]:
    """Bearer headers for a new API client of `clinic` with `scopes`."""
    return create_api_client(client, clinic, scopes)[1]
