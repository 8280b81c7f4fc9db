"""Every write route, called with hostile input, answers a clear 4xx problem and writes nothing.

The routes come from the OpenAPI document, so a new one is covered the day it
lands. Each is called as someone allowed to use it (the member, the clinic's
owner or the admin), with valid ids in its path, and:

- whole bodies no route may take: over the size cap (413), invalid UTF-8,
  nested 10,000 deep, truncated, a 5,000-digit integer, the wrong top-level
  type, JSON labelled text/plain;
- for each field of its request schema, one bad value at a time: a boolean, a
  float, NaN or 10**30 where an integer goes, a string one past its maximum
  length, NUL bytes, a list one past its maximum, an unknown field, a value
  outside its enum (the 422 must name that field);
- malformed ids and slugs in its path.

Every answer must be `application/problem+json` with a 4xx status and a
`detail`, and every table must read the same before and after.
Bodies are not sent to routes that take none (they never read one), except
the oversized one, which the cap refuses before any route runs.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.access.policy import Role
from app.authoring.report import ContentReport
from app.core.config import Environment, Settings
from app.core.db import Database
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.pointers import json_pointer
from app.main import create_app
from app.models import metadata
from tests.conftest import (
    TEST_SECRET,
    ClinicSetup,
    Person,
    PersonFactory,
    add_staff,
    create_api_client,
    link,
)
from tests.hostile import (
    JSON,
    MALFORMED_PATH_VALUES,
    FieldMutation,
    HostileBody,
    Operation,
    Resolver,
    document_bodies,
    encode,
    field_mutations,
    sample,
    unbounded_inputs,
    write_operations,
)
from tests.progress.conftest import enroll, session_body, stage_slugs

PROGRAM = "whole-leg-rehabilitation"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
PUBLIC_WEBHOOK = "https://93.184.216.34/hooks/rehab"


def _openapi() -> dict[str, Any]:
    # Building the app does no I/O: the document is read without a database.
    settings = Settings(
        environment=Environment.TEST, database_url="sqlite://", secret_key=TEST_SECRET
    )
    document: dict[str, Any] = create_app(settings).openapi()
    return document


OPENAPI = _openapi()
OPERATIONS = write_operations(OPENAPI)
RESOLVER = Resolver(OPENAPI)


# ---------------------------------------------------------------------------
# A populated world: every id a write route can name exists


@dataclass
class World:
    member: Person
    admin: Person
    clinic: ClinicSetup
    session_id: str
    api_client_id: int
    webhook_id: int

    def headers_for(self, operation: Operation) -> dict[str, str]:
        path = operation.path
        if path in ("/v1/auth/register", "/v1/auth/token"):
            return {}
        if path.startswith("/v1/clinics/"):
            return self.clinic.owner.headers
        if path.startswith("/v1/me") or path == "/v1/auth/logout":
            return self.member.headers
        return self.admin.headers  # /v1/clinics, /v1/admin/..., anything new

    def path_value(self, operation: Operation, name: str) -> str:
        known: dict[str, Any] = {
            "clinic_id": self.clinic.id,
            "patient_id": self.member.id,
            "user_id": self.member.id,
            "session_id": self.session_id,
            "api_client_id": self.api_client_id,
            "webhook_id": self.webhook_id,
            "delivery_id": 1,
            "program": PROGRAM,
            "program_slug": PROGRAM,
        }
        if name in known:
            return str(known[name])
        before = operation.path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
        by_collection = {
            "exercises": "glute-bridge",
            "programs": PROGRAM,
            "conditions": "piriformis-syndrome",
        }
        if before in by_collection:
            return by_collection[before]
        schema = RESOLVER.resolve(operation.path_params.get(name, {}))
        return "1" if schema.get("type") == "integer" else "a"

    def url(self, operation: Operation, **override: str) -> str:
        url = operation.path
        for name in operation.path_params:
            value = override.get(name, self.path_value(operation, name))
            url = url.replace("{" + name + "}", value)
        return url


def _new_clinic(client: TestClient, admin: Person, owner: Person) -> ClinicSetup:
    created = client.post("/v1/clinics", headers=admin.headers, json={"name": "Hip Clinic"})
    assert created.status_code == 201, created.text
    clinic = ClinicSetup(id=created.json()["id"], owner=owner)
    add_staff(client, clinic.id, admin.headers, owner, "owner")
    return clinic


@pytest.fixture
def world(client: TestClient, seeded: ContentReport, make_person: PersonFactory) -> World:
    admin = make_person(Role.ADMIN)
    clinic = _new_clinic(client, admin, owner=make_person())
    member = make_person()
    link(client, clinic, member)
    enroll(client, member, PROGRAM)
    session_id = str(uuid.uuid4())
    logged = client.put(
        f"/v1/me/sessions/{session_id}",
        headers=member.headers,
        json=session_body(PROGRAM, 1, stage_slugs(client, PROGRAM, 1)[:2]),
    )
    assert logged.status_code == 201, logged.text
    api_client_id, _ = create_api_client(client, clinic, ["patients:read"])
    hook = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": PUBLIC_WEBHOOK, "event_types": ["session.logged"]},
    )
    assert hook.status_code == 201, hook.text
    return World(member, admin, clinic, session_id, api_client_id, hook.json()["id"])


# ---------------------------------------------------------------------------
# Checking answers and tables


def table_digests(database: Database) -> dict[str, str]:
    """One digest per table, of every row: any insert, update or delete changes it."""
    digests = {}
    with database.read_session() as session:
        for table in metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in session.execute(select(table)))
            digests[table.name] = hashlib.blake2b("\n".join(rows).encode()).hexdigest()
    return digests


def problem_faults(response: httpx2.Response, status: int | None) -> list[str]:
    """What is wrong with this answer as a refusal (empty when it is a clear 4xx problem)."""
    faults = []
    if status is not None and response.status_code != status:
        faults.append(f"status {response.status_code}, expected {status}")
    if not 400 <= response.status_code < 500:
        faults.append(f"status {response.status_code} is not a 4xx")
    if response.headers.get("content-type") != PROBLEM_MEDIA_TYPE:
        faults.append(f"content-type {response.headers.get('content-type')}")
        return faults
    body = response.json()
    if body.get("status") != response.status_code:
        faults.append("the problem's status differs from the response's")
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        faults.append("no detail")
    return faults


@dataclass
class Probe:
    """Sends hostile requests for one operation and collects what went wrong."""

    client: TestClient
    database: Database
    world: World
    operation: Operation
    failures: list[str]
    before: dict[str, str]

    def send(
        self,
        label: str,
        content: bytes | None,
        content_type: str | None,
        extra_headers: dict[str, str] | None = None,
        **path: str,
    ) -> httpx2.Response:
        headers = {**self.world.headers_for(self.operation), **(extra_headers or {})}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.client.request(
            self.operation.method.upper(),
            self.world.url(self.operation, **path),
            content=content,
            headers=headers,
        )

    def expect_problem(self, label: str, response: httpx2.Response, status: int | None) -> None:
        for fault in problem_faults(response, status):
            self.failures.append(f"{label}: {fault}: {response.text[:200]}")

    def verdict(self) -> list[str]:
        """The failures, and any table that changed while the hostile requests ran."""
        after = table_digests(self.database)
        changed = [name for name, digest in after.items() if self.before.get(name) != digest]
        if changed:
            self.failures.append(f"tables written: {', '.join(changed)}")
        return self.failures


@pytest.fixture
def probe(client: TestClient, database: Database, world: World) -> Callable[[Operation], Probe]:
    def make(operation: Operation) -> Probe:
        return Probe(client, database, world, operation, [], table_digests(database))

    return make


def _by_label(operation: Operation) -> str:
    return operation.label


def _report(operation: Operation, failures: list[str]) -> str:
    return f"{operation.label}:\n  " + "\n  ".join(failures)


# ---------------------------------------------------------------------------
# The corpus


def test_the_corpus_covers_every_write_route() -> None:
    assert len(OPERATIONS) >= 20
    assert {"register", "put_session", "sync_sessions", "create_webhook"} <= {
        operation.name for operation in OPERATIONS
    }


def test_every_input_in_the_api_has_a_bound() -> None:
    """No string without a maximum length, no integer without a maximum, no unbounded list."""
    assert unbounded_inputs(OPENAPI) == []


FORM_CASES = ("NUL bytes", "one character too long", "a value outside the enum")


@pytest.mark.parametrize("operation", OPERATIONS, ids=_by_label)
def test_hostile_input_is_refused_with_a_clear_problem_and_writes_nothing(
    operation: Operation, probe: Callable[[Operation], Probe], settings: Settings
) -> None:
    check = probe(operation)

    send_hostile_bodies(check, settings)
    if operation.media_type == JSON:
        send_bad_fields(check)
    elif operation.media_type == FORM:
        send_bad_form_fields(check)
    send_malformed_path_values(check)

    assert check.verdict() == [], _report(operation, check.failures)


def send_hostile_bodies(check: Probe, settings: Settings) -> None:
    media_type = check.operation.media_type
    bodies = document_bodies(settings.max_body_bytes, media_type or JSON)
    if media_type is None:
        bodies = bodies[:1]  # a route without a body never reads one: only the cap applies
    elif media_type == MULTIPART:
        # Uploads may be hundreds of MiB: the declared length alone must be refused.
        declared = {"Content-Length": str(settings.max_upload_bytes + 1)}
        response = check.send("declared over the upload cap", b"--x--", MULTIPART, declared)
        check.expect_problem("declared over the upload cap", response, 413)
        bodies = bodies[1:]  # under the upload cap: not a 413 there
    for body in bodies:
        response = check.send(body.label, body.content, body.content_type)
        check.expect_problem(body.label, response, body.status)


def send_bad_fields(check: Probe) -> None:
    assert check.operation.body_schema is not None
    mutations = field_mutations(check.operation.body_schema, RESOLVER)
    assert mutations
    for mutation in mutations:
        response = check.send(mutation.label, encode(mutation.body), JSON)
        check.expect_problem(mutation.label, response, 422)
        _expect_pointer(check, mutation, response)


def send_bad_form_fields(check: Probe) -> None:
    assert check.operation.body_schema is not None
    mutations = [
        m
        for m in field_mutations(check.operation.body_schema, RESOLVER)
        if m.label.endswith(FORM_CASES) and m.pointer.count(".") == 1
    ]
    assert mutations
    for mutation in mutations:
        form = {"grant_type": "password", **mutation.body}
        response = check.send(mutation.label, urlencode(form).encode(), FORM)
        check.expect_problem(mutation.label, response, 422)
        _expect_pointer(check, mutation, response)


def _expect_pointer(check: Probe, mutation: FieldMutation, response: httpx2.Response) -> None:
    if response.status_code != 422:
        return
    pointers = [error.get("pointer") for error in response.json().get("errors", [])]
    # The mutation names its field with dots (`body.entries.0`); the API with a JSON Pointer.
    expected = json_pointer(mutation.pointer.split(".")[1:])
    # A bad list item may be named by its index or, for NUL bytes, by the list that holds it.
    accepted = (expected, expected.removesuffix("/0"))
    if not any(p in accepted or (p or "").startswith(expected + "/") for p in pointers):
        check.failures.append(f"{mutation.label}: the errors name {pointers}")


def send_malformed_path_values(check: Probe) -> None:
    content, content_type = _plausible_body(check.operation)
    for name in check.operation.path_params:
        for value in MALFORMED_PATH_VALUES:
            label = f"{name}={value[:20]!r}"
            response = check.send(label, content, content_type, None, **{name: value})
            check.expect_problem(label, response, None)


def _plausible_body(operation: Operation) -> tuple[bytes | None, str | None]:
    """The route's body in its simplest shape, so only the path is wrong."""
    if operation.body_schema is None or operation.media_type is None:
        return None, None
    body = sample(operation.body_schema, RESOLVER)
    if operation.media_type == JSON:
        return encode(body), JSON
    return urlencode(body).encode(), operation.media_type


@pytest.fixture
def bodies_for_all(settings: Settings) -> list[HostileBody]:
    return document_bodies(settings.max_body_bytes, JSON)


def test_the_refusals_name_the_problem_clearly(
    client: TestClient, world: World, bodies_for_all: list[HostileBody]
) -> None:
    """What a developer reads when their client sends one of these bodies."""
    by_label = {body.label: body for body in bodies_for_all}
    expected = {
        "larger than the cap": "The request body is larger than the 5 MiB this API accepts.",
        "invalid UTF-8": "The request body is not valid UTF-8.",
        "10,000 nested arrays": "The JSON body is nested too deeply.",
    }
    for label, detail in expected.items():
        body = by_label[label]
        response = client.patch(
            "/v1/me",
            content=body.content,
            headers={**world.member.headers, "Content-Type": body.content_type},
        )
        assert response.json()["detail"] == detail


def test_a_boolean_is_not_an_integer(client: TestClient, world: World) -> None:
    body = session_body(PROGRAM, 1, stage_slugs(client, PROGRAM, 1)[:1])
    body["stage"] = True

    response = client.put(
        f"/v1/me/sessions/{uuid.uuid4()}", headers=world.member.headers, json=body
    )

    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/stage"]


def test_a_timestamp_number_is_not_a_date(client: TestClient, world: World) -> None:
    body = session_body(PROGRAM, 1, stage_slugs(client, PROGRAM, 1)[:1])
    body["performed_at"] = 1_764_000_000

    response = client.put(
        f"/v1/me/sessions/{uuid.uuid4()}", headers=world.member.headers, json=body
    )

    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/performed_at"]


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "sam\x00@example.com", "password": "whatever"},
        {"grant_type": "client_credentials", "client_id": "rc_\x00", "client_secret": "x"},
    ],
    ids=["username", "client_id"],
)
def test_nul_in_sign_in_fields_is_a_422_not_a_database_error(
    client: TestClient, world: World, form: dict[str, str]
) -> None:
    response = client.post("/v1/auth/token", data=form)

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "nul_character"


def test_nul_in_basic_client_credentials_is_an_unknown_client(
    client: TestClient, world: World
) -> None:
    response = client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        auth=("rc_\x00", "secret"),
    )

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/v1/me", "GET, DELETE, PATCH"),
        ("/v1/me/sessions/sync", "POST"),
        (f"/v1/me/sessions/{uuid.UUID(int=1)}", "PUT, GET, DELETE"),
    ],
)
def test_a_wrong_method_is_405_naming_every_method_of_the_path(
    client: TestClient, path: str, allow: str
) -> None:
    response = client.request("OPTIONS", path)

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["allow"] == allow


def test_a_forged_media_signature_with_non_ascii_characters_is_refused(
    client: TestClient, settings: Settings
) -> None:
    forged = "0" * 63 + "%C2%80"  # 64 characters, the last one not ASCII
    response = client.get(f"/media/videos/glute-bridge.mp4?expires=9999999999&signature={forged}")

    # Not a signature this API makes (the schema says: 64 hex digits): refused as input.
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_the_password_length_rule_is_in_the_schema() -> None:
    schemas = OPENAPI["components"]["schemas"]

    assert schemas["RegisterIn"]["properties"]["password"]["minLength"] == 10
    assert schemas["PasswordChange"]["properties"]["new_password"]["minLength"] == 10
