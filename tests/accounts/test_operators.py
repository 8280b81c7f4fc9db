"""Operators manage accounts: `/v1/admin/users` and `rehab users`, every action audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.access.policy import Role
from app.cli import cli
from app.core.config import Settings
from tests.conftest import Person, PersonFactory, sign_in

pytestmark = pytest.mark.usefixtures("seeded")
USERS = "/v1/admin/users"
PROGRAM = "whole-leg-rehabilitation"


@pytest.fixture
def admin_person(make_person: PersonFactory) -> Person:
    return make_person(Role.ADMIN)


def test_only_admins_manage_accounts(
    client: TestClient, member: Person, admin_person: Person
) -> None:
    assert client.get(USERS).status_code == 401
    assert client.get(USERS, headers=member.headers).status_code == 403
    assert client.get(USERS, headers=admin_person.headers).status_code == 200


def test_accounts_are_listed_and_searched(
    client: TestClient, admin_person: Person, make_person: PersonFactory
) -> None:
    make_person(email="ana@clinic.example")
    make_person(email="bo@example.com", verified=False)
    headers = admin_person.headers
    found = client.get(USERS, params={"q": "clinic.example"}, headers=headers).json()
    assert [u["email"] for u in found["items"]] == ["ana@clinic.example"]
    unverified = client.get(USERS, params={"verified": "false"}, headers=headers).json()
    assert [u["email"] for u in unverified["items"]] == ["bo@example.com"]
    admins = client.get(USERS, params={"role": "admin"}, headers=headers).json()
    assert [u["id"] for u in admins["items"]] == [admin_person.id]
    one = client.get(f"{USERS}/{admin_person.id}", headers=headers).json()
    assert one["active_sign_ins"] == 1
    assert client.get(f"{USERS}/999999", headers=headers).status_code == 404


def test_a_disabled_account_is_refused_on_its_very_next_request_everywhere(
    remembering_client: TestClient, admin_person: Person, member: Person
) -> None:
    client = remembering_client
    program = f"/v1/programs/{PROGRAM}"
    for _ in range(2):  # warm every memory of the token, the catalogue replay included
        assert client.get(program, headers=member.headers).status_code == 200
        assert client.get("/v1/me", headers=member.headers).status_code == 200
    disabled = client.patch(
        f"{USERS}/{member.id}", headers=admin_person.headers, json={"disabled": True}
    )
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert client.get(program, headers=member.headers).status_code == 401
    assert client.get("/v1/me", headers=member.headers).status_code == 401
    refresh = {"grant_type": "refresh_token", "refresh_token": member.refresh_token}
    assert client.post("/v1/auth/token", data=refresh).status_code == 400
    login = {"grant_type": "password", "username": member.email, "password": member.password}
    assert client.post("/v1/auth/token", data=login).status_code == 400

    enabled = client.patch(
        f"{USERS}/{member.id}", headers=admin_person.headers, json={"disabled": False}
    )
    assert enabled.json()["disabled"] is False
    sign_in(client, member.email, member.password)

    trail = client.get(
        "/v1/admin/audit",
        params={"kind": "user", "slug": str(member.id)},
        headers=admin_person.headers,
    ).json()
    assert [(e["action"], e["after"]) for e in trail["items"]] == [
        ("update", {"role": "member", "disabled": False}),
        ("update", {"role": "member", "disabled": True}),
    ]
    assert member.email not in str(trail)


def test_roles_change_and_the_last_admin_stays(
    client: TestClient, admin_person: Person, member: Person
) -> None:
    headers = admin_person.headers
    promoted = client.patch(f"{USERS}/{member.id}", headers=headers, json={"role": "admin"})
    assert promoted.json()["role"] == "admin"
    assert client.get(USERS, headers=member.headers).status_code == 200
    demoted = client.patch(f"{USERS}/{member.id}", headers=headers, json={"role": "member"})
    assert demoted.json()["role"] == "member"
    assert client.get(USERS, headers=member.headers).status_code == 403
    last = client.patch(f"{USERS}/{admin_person.id}", headers=headers, json={"disabled": True})
    assert last.status_code == 409
    assert client.get(USERS, headers=headers).status_code == 200


def test_ending_an_accounts_sign_ins_signs_every_device_out(
    client: TestClient, admin_person: Person, member: Person
) -> None:
    second = sign_in(client, member.email, member.password)
    ended = client.delete(f"{USERS}/{member.id}/sign-ins", headers=admin_person.headers)
    assert ended.status_code == 204
    for token in (member.access_token, second["access_token"]):
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    sign_in(client, member.email, member.password)  # the account itself still works


def test_the_command_line_disables_and_promotes(
    client: TestClient, settings: Settings, member: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv(
        "SECRET_KEY", settings.secret_key.get_secret_value() if settings.secret_key else ""
    )
    from app.core.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    disabled = runner.invoke(cli, ["users", "disable", member.email])
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in disabled.output
    assert client.get("/v1/me", headers=member.headers).status_code == 401
    enabled = runner.invoke(cli, ["users", "enable", member.email])
    assert enabled.exit_code == 0, enabled.output
    promoted = runner.invoke(cli, ["create-admin", member.email])
    assert promoted.exit_code == 0, promoted.output
    assert "is now an administrator" in promoted.output
    assert client.get("/v1/me", headers=member.headers).json()["role"] == "admin"
    unknown = runner.invoke(cli, ["users", "disable", "nobody@example.com"])
    assert unknown.exit_code == 1
    get_settings.cache_clear()
