"""Registration, /v1/me and the operator's create-admin."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import select

from app.core.db import Database
from app.identity import passwords
from app.identity.models import User
from app.identity.passwords import hash_password
from tests.conftest import Person, sign_in

GOOD_PASSWORD = "a sturdy passphrase 42"


def register(client: TestClient, **overrides: object) -> tuple[int, dict[str, object]]:
    body = {"email": "sam@example.com", "password": GOOD_PASSWORD, "display_name": "Sam"}
    response = client.post("/v1/auth/register", json=body | overrides)
    return response.status_code, response.json()


class TestRegister:
    def test_creates_a_member_with_a_normalised_email(self, client: TestClient) -> None:
        response = client.post(
            "/v1/auth/register",
            json={"email": "  Sam@Example.COM ", "password": GOOD_PASSWORD, "display_name": "Sam"},
        )
        assert response.status_code == 201
        assert response.headers["location"] == "/v1/me"
        body = response.json()
        assert body["email"] == "sam@example.com"
        assert body["role"] == "member"
        assert "password" not in response.text

    def test_password_is_stored_as_an_argon2id_hash(
        self, client: TestClient, database: Database
    ) -> None:
        register(client)
        with database.read_session() as session:
            user = session.exec(select(User)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert GOOD_PASSWORD not in user.password_hash

    def test_a_taken_email_is_a_409_that_reveals_nothing_else(self, client: TestClient) -> None:
        register(client)
        status, problem = register(client, email="SAM@example.com", display_name="Other")
        assert status == 409
        assert problem["detail"] == "An account with this email already exists."
        assert "Sam" not in str(problem)

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("short1!", "at least 10 characters"),
            ("sam@example.com", "email"),
            ("password123", "common"),
            ("Qwertyuiop", "common"),
        ],
    )
    def test_weak_passwords_are_refused_with_the_reason(
        self, client: TestClient, database: Database, password: str, reason: str
    ) -> None:
        status, problem = register(client, password=password)
        assert status == 422
        errors = problem["errors"]
        assert isinstance(errors, list)
        assert errors[0]["pointer"] == "/password"
        assert reason in str(problem)
        with database.read_session() as session:
            assert session.exec(select(User)).all() == []

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "not-an-email", "password": GOOD_PASSWORD, "display_name": "Sam"},
            {"email": "sam@example.com", "password": GOOD_PASSWORD},
            {"email": "sam@example.com", "password": GOOD_PASSWORD, "display_name": ""},
            {"email": "sam@example.com", "password": "x" * 129, "display_name": "Sam"},
            {"email": "sam@example.com", "password": 12345678901, "display_name": "Sam"},
            {"email": "a@b.co", "password": GOOD_PASSWORD, "display_name": "S", "role": "admin"},
        ],
    )
    def test_invalid_bodies_are_422_and_create_nothing(
        self, client: TestClient, database: Database, body: dict[str, object]
    ) -> None:
        response = client.post("/v1/auth/register", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        with database.read_session() as session:
            assert session.exec(select(User)).all() == []


class TestMe:
    def test_shows_the_signed_in_account(self, client: TestClient, member: Person) -> None:
        response = client.get("/v1/me", headers=member.headers)
        assert response.status_code == 200
        assert response.json()["email"] == member.email
        assert response.headers["cache-control"] == "private, no-store"

    def test_without_a_token_is_401_with_a_bearer_challenge(self, client: TestClient) -> None:
        response = client.get("/v1/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"

    def test_display_name_can_be_changed(self, client: TestClient, member: Person) -> None:
        response = client.patch("/v1/me", headers=member.headers, json={"display_name": "Robin"})
        assert response.status_code == 200
        assert response.json()["display_name"] == "Robin"
        assert client.get("/v1/me", headers=member.headers).json()["display_name"] == "Robin"

    @pytest.mark.parametrize(
        "body",
        [
            {"display_name": "Robin", "role": "admin"},
            {"display_name": "Robin", "disabled": False},
            {"display_name": "Robin", "email": "other@example.com"},
            {"role": "admin"},
            {"display_name": 7},
        ],
    )
    def test_mass_assignment_is_refused_and_changes_nothing(
        self, client: TestClient, member: Person, body: dict[str, object]
    ) -> None:
        before = client.get("/v1/me", headers=member.headers).json()
        response = client.patch("/v1/me", headers=member.headers, json=body)
        assert response.status_code == 422
        assert client.get("/v1/me", headers=member.headers).json() == before


class TestPasswordHashing:
    def test_login_rehashes_a_password_made_with_older_parameters(
        self, client: TestClient, database: Database, member: Person
    ) -> None:
        older = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=2048, parallelism=1),))
        with database.write_session() as session:
            user = session.get(User, member.id)
            assert user is not None
            user.password_hash = older.hash(member.password)
        sign_in(client, member.email, member.password)
        with database.read_session() as session:
            user = session.get(User, member.id)
            assert user is not None
            assert passwords._hasher.hashers[0].check_needs_rehash(user.password_hash) is False
            assert "m=2048" not in user.password_hash
        sign_in(client, member.email, member.password)

    def test_unknown_email_costs_a_hash_verification_too(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verified: list[str] = []
        original = passwords._hasher.verify

        def spy(password: str, hash_: str) -> bool:
            verified.append(hash_)
            return original(password, hash_)

        monkeypatch.setattr(passwords._hasher, "verify", spy)
        response = client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": "ghost@example.com", "password": "x" * 12},
        )
        assert response.status_code == 400
        assert verified, "an unknown email must still pay for one hash verification"

    def test_hash_password_is_argon2id(self) -> None:
        assert hash_password("another long passphrase").startswith("$argon2id$")


@pytest.mark.parametrize("password", [" " * 10, "\t" * 12, " \n " * 5])
def test_a_password_of_spaces_is_refused_wherever_a_password_is_set(
    client: TestClient, member: Person, password: str
) -> None:
    """One policy for every place a password is set (it was 204 on /v1/me/password)."""
    changed = client.post(
        "/v1/me/password",
        headers=member.headers,
        json={"current_password": member.password, "new_password": password},
    )
    assert changed.status_code == 422
    registered = client.post(
        "/v1/auth/register",
        json={"email": "spaces@example.com", "password": password, "display_name": "S"},
    )
    assert registered.status_code == 422
    reset = client.post(
        "/v1/auth/password-reset/confirm", json={"token": "x" * 43, "new_password": password}
    )
    assert reset.status_code == 422
    assert client.get("/v1/me", headers=member.headers).status_code == 200
