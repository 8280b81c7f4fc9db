"""Property-based API testing with schemathesis, in-process against the ASGI app.

Every documented operation is exercised with generated data (valid and
invalid) and every default check: no server errors, status codes, content
types, headers and bodies as documented, invalid data refused, declared
authentication not ignored. Each operation runs as the caller it is meant
for, so generated requests get past authentication to the validation and
logic behind it:

- a member: their own account, enrollments, sessions, progress and consent;
- a clinician (the clinic's owner): the clinic's routes;
- an API client of that clinic: the patient, program and webhook routes it
  has scopes for;
- the catalogue and media are read as the member.

A stateful run follows the OpenAPI links between creating something and
reading it back (a logged session, an enrollment, a webhook's deliveries).

Runs are bounded and derandomized (fixed examples per operation) so the suite
stays fast and deterministic. Data accumulates across examples in one
database, seeded once for the module; rate limits are raised for it.

Exclusions: none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case
from schemathesis.openapi import from_asgi
from sqlalchemy import update
from sqlmodel import col

from app.access.policy import Role
from app.authoring.content import apply_content
from app.authoring.seed import read_content_dir
from app.core.config import Environment, Settings
from app.core.db import Database
from app.core.deps import DATABASE
from app.core.models import utcnow
from app.identity.models import RefreshFamily
from app.identity.schemas import RegisterIn
from app.identity.service import register
from app.main import create_app
from app.models import metadata
from tests.conftest import TEST_SECRET, sign_in

PROGRAM = "whole-leg-rehabilitation"
PASSWORD = "a sturdy passphrase 42"
MAX_EXAMPLES = 8
STATEFUL_EXAMPLES = 15
STATEFUL_STEPS = 6
GENEROUS = "100000/minute"
# The create -> read/delete chains the OpenAPI links describe.
LINKED_OPERATIONS = [
    "put_session",
    "get_session",
    "delete_session",
    "enroll",
    "get_enrollment",
    "advance",
    "leave_program",
    "create_webhook",
    "list_deliveries",
    "delete_webhook",
]


@dataclass(frozen=True)
class Callers:
    member: dict[str, str]
    clinician: dict[str, str]
    api_client: dict[str, str]
    clinic_id: int
    stage_one: list[str]  # slugs of the exercises of PROGRAM's first stage

    def for_case(self, case: Case[Any]) -> dict[str, str]:
        path = case.operation.path
        if path.startswith("/v1/clinics/{clinic_id}/") and _client_scoped(path):
            return self.api_client
        if path.startswith("/v1/clinics"):
            return self.clinician
        return self.member


def _client_scoped(path: str) -> bool:
    return any(part in path for part in ("/patients", "/webhooks"))


def _person(
    client: TestClient | httpx.Client, database: Database, email: str, role: Role
) -> dict[str, str]:
    with database.write_session() as session:
        user = register(
            session, RegisterIn(email=email, password=PASSWORD, display_name="Sam"), role=role
        )
        user.email_verified_at = utcnow()
    token = sign_in(client, email, PASSWORD)["access_token"]
    # Signed in long ago: deleting the account takes the password, which generated data
    # never guesses, so the callers last the whole run.
    with database.write_session() as session:
        session.execute(
            update(RefreshFamily)
            .where(col(RefreshFamily.user_id) == user.id)
            .values(created_at=utcnow() - timedelta(days=1))
        )
    return {"Authorization": f"Bearer {token}"}


def _world(
    client: TestClient | httpx.Client,
    database: Database,
    settings: Settings,
    *,
    enrolled: bool = True,
) -> Callers:
    with database.write_session() as session:
        apply_content(session, read_content_dir(settings.seed_dir))
    admin = _person(client, database, "admin@example.com", Role.ADMIN)
    member = _person(client, database, "member@example.com", Role.MEMBER)
    owner = _person(client, database, "owner@example.com", Role.MEMBER)
    clinic = client.post("/v1/clinics", headers=admin, json={"name": "Hip Clinic"}).json()
    path = f"/v1/clinics/{clinic['id']}"
    invited = client.post(
        f"{path}/staff-invitations",
        headers=admin,
        json={"email": "owner@example.com", "role": "owner"},
    )
    client.post("/v1/me/staff-invitations", headers=owner, json={"code": invited.json()["code"]})
    code = client.post(f"{path}/invitations", headers=owner).json()["code"]
    client.post("/v1/me/clinic-links", headers=member, json={"code": code})
    if enrolled:
        client.post("/v1/me/enrollments", headers=member, json={"program": PROGRAM})
    created = client.post(
        f"{path}/api-clients",
        headers=owner,
        json={
            "name": "Practice system",
            "scopes": ["patients:read", "programs:write", "webhooks:manage"],
        },
    ).json()
    token = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    ).json()["access_token"]
    program = client.get(f"/v1/programs/{PROGRAM}").json()
    stage_one = [item["exercise"]["slug"] for item in program["stages"][0]["exercises"]]
    return Callers(member, owner, {"Authorization": f"Bearer {token}"}, clinic["id"], stage_one)


@pytest.fixture(scope="module")
def settings_for_fuzzing(settings: Settings) -> Settings:
    """Rate limits out of the way: generated requests sign in and register by the hundred."""
    return settings.model_copy(
        update={
            "register_rate_per_address": GENEROUS,
            "login_rate_per_account_and_address": GENEROUS,
            "login_rate_per_address": GENEROUS,
            "redeem_rate_per_account": GENEROUS,
            # Generated webhook hosts are not looked up in DNS: no network, same answer each run.
            "webhook_allow_private_targets": True,
        }
    )


@pytest.fixture(scope="module")
def fuzzed_app(
    request: pytest.FixtureRequest, settings_for_fuzzing: Settings
) -> Iterator[tuple[FastAPI, Callers]]:
    # Taken by name, not as a parameter: the per-test table cleaning runs for tests that
    # use `database`, and these tests share one world, seeded once, across examples.
    database: Database = request.getfixturevalue("database")
    _empty_tables(database)
    app = create_app(settings_for_fuzzing, database=database)
    with TestClient(app) as client:
        yield app, _world(client, database, settings_for_fuzzing)


def _empty_tables(database: Database) -> None:
    with database.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="module")
def callers(fuzzed_app: tuple[FastAPI, Callers]) -> Callers:
    return fuzzed_app[1]


@pytest.fixture(scope="module")
def app(fuzzed_app: tuple[FastAPI, Callers]) -> FastAPI:
    return fuzzed_app[0]


def _document_app() -> FastAPI:
    # The operations are read from an app built without a database (building does no I/O);
    # requests go to the app wired to the test database (`app=` on each call).
    return create_app(
        Settings(
            environment=Environment.TEST,
            database_url="sqlite://",
            secret_key=TEST_SECRET,
            webhook_worker=False,
        )
    )


schema = from_asgi("/openapi.json", _document_app())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_conforms_to_its_openapi_document(
    case: Case[Any], callers: Callers, app: FastAPI
) -> None:
    case.call_and_validate(headers=callers.for_case(case), app=app)


def test_create_then_read_sequences_follow_the_openapi_links(
    fuzzed_app: tuple[FastAPI, Callers], settings_for_fuzzing: Settings
) -> None:
    """Log a session then read or delete it, enroll then read, advance or leave, subscribe
    a webhook then list its deliveries or delete it: each step checked like the others.

    Every scenario starts from the same freshly seeded world, so a scenario Hypothesis
    generates again meets the same answers (the links it may follow depend on them)."""
    app, _ = fuzzed_app
    database = DATABASE.of_app(app)
    current: list[Callers] = []

    linked = schema.include(operation_id=LINKED_OPERATIONS)

    class LinkedCalls(linked.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            _empty_tables(database)
            world = _world(TestClient(app), database, settings_for_fuzzing, enrolled=False)
            current[:] = [world]

        def before_call(self, case: Case[Any]) -> None:
            with_real_content(case, current[0].stage_one)

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"headers": current[0].for_case(case), "app": app}

    LinkedCalls.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.generate],  # no shrinking: a failure is reported as found
        )
    )


def with_real_content(case: Case[Any], stage_one: list[str]) -> None:
    """Point generated enrollments and sessions at a real program and its exercises, so a
    chain gets past 404 to the links that follow (random slugs name nothing)."""
    body = case.body
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return  # a body made to break the schema stays broken, or the check misreads it
    if not isinstance(body, dict) or case.operation.path not in (
        "/v1/me/enrollments",
        "/v1/me/sessions/{session_id}",
    ):
        return
    body["program"] = PROGRAM
    entries = body.get("entries")
    if isinstance(entries, list):
        body["stage"] = 1
        body["performed_at"] = "2026-01-05T07:30:00Z"
        body["entries"] = [
            {**entry, "exercise": slug}
            for entry, slug in zip(entries, stage_one, strict=False)
            if isinstance(entry, dict)
        ]
