"""The token endpoint: password sign-in, refresh rotation with reuse detection, and the
things that end a sign-in (logout, a password change, a disabled account)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlmodel import select

from app.core.db import Database
from app.identity.models import RefreshFamily, RefreshToken, User
from tests.conftest import Person, sign_in

TOKEN = "/v1/auth/token"
ME = "/v1/me"
NEW_PASSWORD = "a different long passphrase 7"


def refresh(client: TestClient, refresh_token: str) -> Response:
    return client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def password_grant(client: TestClient, email: str, password: str) -> Response:
    return client.post(
        TOKEN, data={"grant_type": "password", "username": email, "password": password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me_status(client: TestClient, access_token: str) -> int:
    return client.get(ME, headers=bearer(access_token)).status_code


def assert_invalid_grant(response: Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["error"] == "invalid_grant"
    assert problem["status"] == 400
    return problem


def assert_422(response: Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    return problem


def change_password(
    client: TestClient, person: Person, *, current: str, new: str, access_token: str | None = None
) -> Response:
    return client.post(
        "/v1/me/password",
        headers=bearer(access_token or person.access_token),
        json={"current_password": current, "new_password": new},
    )


# ---------------------------------------------------------------------------
# Rotation


def test_refresh_returns_a_new_pair_whose_access_token_works(
    client: TestClient, member: Person
) -> None:
    response = refresh(client, member.refresh_token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] > 0
    assert pair["access_token"] != member.access_token
    assert pair["refresh_token"] != member.refresh_token
    me = client.get(ME, headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == member.id


def test_the_rotated_refresh_token_can_itself_be_refreshed(
    client: TestClient, member: Person
) -> None:
    first = refresh(client, member.refresh_token).json()
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert me_status(client, second.json()["access_token"]) == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    client: TestClient, member: Person
) -> None:
    rotated = refresh(client, member.refresh_token).json()
    assert me_status(client, rotated["access_token"]) == 200

    assert_invalid_grant(refresh(client, member.refresh_token))

    # The newest refresh token of the family fails too, and so does every access token.
    assert_invalid_grant(refresh(client, rotated["refresh_token"]))
    assert me_status(client, rotated["access_token"]) == 401
    assert me_status(client, member.access_token) == 401


def test_reuse_revocation_is_recorded_in_the_database(
    client: TestClient, database: Database, member: Person
) -> None:
    refresh(client, member.refresh_token)
    assert_invalid_grant(refresh(client, member.refresh_token))
    with database.read_session() as session:
        families = session.exec(
            select(RefreshFamily).where(RefreshFamily.user_id == member.id)
        ).all()
    assert len(families) == 1
    assert families[0].revoked_at is not None
    assert families[0].revoked_reason == "refresh_reused"


def test_reuse_in_one_sign_in_leaves_other_sign_ins_of_the_same_user_working(
    client: TestClient, member: Person
) -> None:
    other = sign_in(client, member.email, member.password)
    refresh(client, member.refresh_token)
    assert_invalid_grant(refresh(client, member.refresh_token))

    assert me_status(client, other["access_token"]) == 200
    renewed = refresh(client, other["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert me_status(client, renewed.json()["access_token"]) == 200


def test_an_access_token_is_refused_as_a_refresh_token(client: TestClient, member: Person) -> None:
    assert_invalid_grant(refresh(client, member.access_token))
    # ...and refusing it did not spend or revoke anything.
    assert refresh(client, member.refresh_token).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_a_garbage_refresh_token_is_an_invalid_grant(client: TestClient, token: str) -> None:
    assert_invalid_grant(refresh(client, token))


def test_a_missing_refresh_token_is_422(client: TestClient) -> None:
    assert_422(client.post(TOKEN, data={"grant_type": "refresh_token"}))


def test_refresh_tokens_are_stored_only_as_hashes(
    client: TestClient, database: Database, member: Person
) -> None:
    rotated = refresh(client, member.refresh_token).json()
    with database.read_session() as session:
        hashes = session.exec(select(RefreshToken.token_hash)).all()
    assert len(hashes) == 2
    for raw in (member.refresh_token, rotated["refresh_token"]):
        assert all(raw not in stored for stored in hashes)
        assert all(stored not in raw for stored in hashes)


# ---------------------------------------------------------------------------
# What ends a sign-in


def test_logout_revokes_the_family_so_its_refresh_token_fails(
    client: TestClient, member: Person
) -> None:
    assert client.post("/v1/auth/logout", headers=member.headers).status_code == 204
    assert_invalid_grant(refresh(client, member.refresh_token))
    assert me_status(client, member.access_token) == 401


def test_logout_ends_only_its_own_sign_in(client: TestClient, member: Person) -> None:
    other = sign_in(client, member.email, member.password)
    assert client.post("/v1/auth/logout", headers=member.headers).status_code == 204
    assert me_status(client, other["access_token"]) == 200
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_a_disabled_user_cannot_refresh(
    client: TestClient, database: Database, member: Person
) -> None:
    with database.write_session() as session:
        user = session.get(User, member.id)
        assert user is not None
        user.disabled = True
        session.add(user)
    assert_invalid_grant(refresh(client, member.refresh_token))


def test_a_disabled_user_cannot_sign_in(
    client: TestClient, database: Database, member: Person
) -> None:
    with database.write_session() as session:
        user = session.get(User, member.id)
        assert user is not None
        user.disabled = True
        session.add(user)
    assert_invalid_grant(password_grant(client, member.email, member.password))


# ---------------------------------------------------------------------------
# Password change


def test_a_password_change_ends_every_other_sign_in_but_keeps_this_one(
    client: TestClient, member: Person
) -> None:
    other = sign_in(client, member.email, member.password)
    assert me_status(client, other["access_token"]) == 200

    response = change_password(client, member, current=member.password, new=NEW_PASSWORD)
    assert response.status_code == 204, response.text

    assert me_status(client, other["access_token"]) == 401
    assert_invalid_grant(refresh(client, other["refresh_token"]))

    assert me_status(client, member.access_token) == 200
    renewed = refresh(client, member.refresh_token)
    assert renewed.status_code == 200, renewed.text
    assert me_status(client, renewed.json()["access_token"]) == 200


def test_after_a_password_change_only_the_new_password_signs_in(
    client: TestClient, member: Person
) -> None:
    response = change_password(client, member, current=member.password, new=NEW_PASSWORD)
    assert response.status_code == 204, response.text
    assert_invalid_grant(password_grant(client, member.email, member.password))
    assert password_grant(client, member.email, NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_is_422_and_changes_nothing(
    client: TestClient, member: Person
) -> None:
    other = sign_in(client, member.email, member.password)
    response = change_password(client, member, current="not the password 1", new=NEW_PASSWORD)
    problem = assert_422(response)
    assert problem["errors"][0]["pointer"] == "/current_password"

    assert me_status(client, other["access_token"]) == 200
    assert me_status(client, member.access_token) == 200
    assert password_grant(client, member.email, member.password).status_code == 200
    assert_invalid_grant(password_grant(client, member.email, NEW_PASSWORD))


@pytest.mark.parametrize(
    "new_password",
    ["short1!", "password123", "<email>"],
    ids=["too-short", "common", "the-email"],
)
def test_a_new_password_that_fails_the_policy_is_422_and_changes_nothing(
    client: TestClient, member: Person, new_password: str
) -> None:
    new_password = new_password.replace("<email>", member.email)
    other = sign_in(client, member.email, member.password)
    problem = assert_422(change_password(client, member, current=member.password, new=new_password))
    assert problem["errors"][0]["pointer"] == "/new_password"
    assert me_status(client, other["access_token"]) == 200
    assert password_grant(client, member.email, member.password).status_code == 200


def test_a_password_change_needs_a_valid_token(client: TestClient, member: Person) -> None:
    assert client.post("/v1/auth/logout", headers=member.headers).status_code == 204
    response = change_password(client, member, current=member.password, new=NEW_PASSWORD)
    assert response.status_code == 401
    assert password_grant(client, member.email, member.password).status_code == 200


# ---------------------------------------------------------------------------
# The password grant and grant types


def test_a_wrong_password_and_an_unknown_email_look_the_same(
    client: TestClient, member: Person
) -> None:
    wrong_password = assert_invalid_grant(
        password_grant(client, member.email, "not the password 1")
    )
    unknown_email = assert_invalid_grant(
        password_grant(client, "nobody@example.com", "not the password 1")
    )
    assert wrong_password["detail"] == unknown_email["detail"]
    assert wrong_password["type"] == unknown_email["type"]


def test_a_password_sign_in_starts_a_new_family(
    client: TestClient, database: Database, member: Person
) -> None:
    sign_in(client, member.email, member.password)
    with database.read_session() as session:
        families = session.exec(
            select(RefreshFamily).where(RefreshFamily.user_id == member.id)
        ).all()
    assert len(families) == 2


def test_client_credentials_of_an_unknown_client_are_refused(client: TestClient) -> None:
    response = client.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["implicit", "authorization_code", "", "PASSWORD"])
def test_an_unknown_grant_type_is_422(client: TestClient, grant_type: str) -> None:
    response = client.post(
        TOKEN, data={"grant_type": grant_type, "username": "a@b.co", "password": "x" * 12}
    )
    assert_422(response)


def test_a_missing_grant_type_is_422(client: TestClient) -> None:
    assert_422(client.post(TOKEN, data={"username": "a@b.co", "password": "x" * 12}))


def test_a_missing_password_is_422(client: TestClient, member: Person) -> None:
    assert_422(client.post(TOKEN, data={"grant_type": "password", "username": member.email}))


def test_a_missing_username_is_422(client: TestClient, member: Person) -> None:
    assert_422(client.post(TOKEN, data={"grant_type": "password", "password": member.password}))
