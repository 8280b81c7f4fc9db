"""The request body cap (413), and bodies that cannot be parsed (400), as problem+json."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.types import Message, Receive, Scope, Send

from app.authoring.routers.media import UPLOAD_PATHS
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.limits import BodyLimitMiddleware, describe_size
from app.identity.models import User
from app.main import create_app
from tests.conftest import Person

JSON_CAP = 4096
UPLOAD_CAP = 16384


@pytest.fixture
def capped(settings: Settings, database: Database) -> Iterator[TestClient]:
    """The app with small caps, so a test body can cross them."""
    small = settings.model_copy(update={"max_body_bytes": JSON_CAP, "max_upload_bytes": UPLOAD_CAP})
    with TestClient(create_app(small, database=database)) as test_client:
        yield test_client


def _registration(display_name: str) -> dict[str, str]:
    return {
        "email": "big@example.com",
        "password": "a sturdy passphrase 42",
        "display_name": display_name,
    }


def _user_count(database: Database) -> int:
    with database.read_session() as session:
        count: int = session.execute(select(func.count()).select_from(User)).scalar_one()
    return count


def _assert_problem(response_status: int, content_type: str, body: dict[str, object]) -> None:
    assert content_type == PROBLEM_MEDIA_TYPE
    assert body["status"] == response_status
    assert isinstance(body["detail"], str)
    assert body["detail"]


def test_declared_body_over_the_cap_is_refused_with_413_before_anything_runs(
    capped: TestClient, database: Database
) -> None:
    body = json.dumps(_registration("x" * JSON_CAP)).encode()

    response = capped.post(
        "/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    _assert_problem(413, response.headers["content-type"], response.json())
    assert response.json()["type"] == "/problems/payload-too-large"
    assert response.json()["detail"] == (
        "The request body is larger than the 4 KiB this API accepts."
    )
    assert _user_count(database) == 0


def test_chunked_body_growing_past_the_cap_is_refused_with_413(
    capped: TestClient, database: Database
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "big@example.com", "password": "a sturdy passphrase 42", '
        yield b'"display_name": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = capped.post(
        "/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    _assert_problem(413, response.headers["content-type"], response.json())
    assert _user_count(database) == 0


def test_body_under_the_cap_goes_through(capped: TestClient, database: Database) -> None:
    response = capped.post("/v1/auth/register", json=_registration("Sam"))

    assert response.status_code == 201
    assert _user_count(database) == 1


UPLOAD = "/v1/admin/exercises/clamshell/video"


def test_only_the_upload_routes_take_a_body_past_the_ordinary_cap(capped: TestClient) -> None:
    between_caps = {"file": ("v.mp4", b"x" * (JSON_CAP * 2), "video/mp4")}
    over_upload_cap = {"file": ("v.mp4", b"x" * UPLOAD_CAP, "video/mp4")}

    allowed = capped.put(UPLOAD, files=between_caps)
    refused = capped.put(UPLOAD, files=over_upload_cap)

    assert allowed.status_code == 401  # let through to the route, which asks who is calling
    assert refused.status_code == 413
    assert refused.json()["detail"] == (
        "The request body is larger than the 16 KiB this API accepts."
    )


@pytest.mark.parametrize("path", ["/v1/auth/register", "/v1/auth/token", "/v1/me/sessions/sync"])
def test_claiming_multipart_elsewhere_buys_no_larger_cap(capped: TestClient, path: str) -> None:
    """`head -c 150000000 /dev/zero | curl -H 'Content-Type: multipart/form-data; ...'` used
    to be buffered whole before the 422; now it is refused at once."""
    body = b"x" * (JSON_CAP * 2)
    refused = capped.post(
        path, content=body, headers={"Content-Type": "multipart/form-data; boundary=z"}
    )
    assert refused.status_code == 413
    chunked = capped.post(
        path,
        content=iter([body[:1000], body[1000:]]),
        headers={"Content-Type": "multipart/form-data; boundary=z"},
    )
    assert chunked.status_code == 413


def test_reads_are_not_limited(capped: TestClient) -> None:
    response = capped.request("GET", "/healthz", content=b"x" * (JSON_CAP * 2))

    assert response.status_code == 200


def test_malformed_content_length_is_a_400_problem_and_the_app_is_not_called() -> None:
    reached: list[Scope] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = BodyLimitMiddleware(
        app, max_body_bytes=JSON_CAP, max_upload_bytes=UPLOAD_CAP, upload_paths=UPLOAD_PATHS
    )
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/auth/register",
        "headers": [(b"content-length", b"12abc"), (b"content-type", b"application/json")],
    }
    asyncio.run(middleware(scope, receive, send))

    assert reached == []
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["detail"] == "Content-Length is not a number."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"display_name": "\xff\xfe"}', "The request body is not valid UTF-8."),
        (b"[" * 10_000 + b"]" * 10_000, "The JSON body is nested too deeply."),
        (b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, "The JSON body is nested too deeply."),
    ],
    ids=["invalid-utf8", "nested-arrays", "nested-objects"],
)
def test_unreadable_json_is_a_400_problem_saying_why(
    client: TestClient, member: Person, body: bytes, detail: str
) -> None:
    response = client.patch(
        "/v1/me", content=body, headers={**member.headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    _assert_problem(400, response.headers["content-type"], response.json())
    assert response.json()["detail"] == detail
    assert response.json()["type"] == "/problems/malformed-body"


def test_integer_with_too_many_digits_is_a_400_problem(client: TestClient, member: Person) -> None:
    body = b'{"display_name": ' + b"9" * 5000 + b"}"

    response = client.patch(
        "/v1/me", content=body, headers={**member.headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The JSON body could not be read:")


def test_openapi_documents_413_on_every_operation_with_a_body(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    with_body = [
        (path, method, operation)
        for path, item in paths.items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]

    assert with_body
    for path, method, operation in with_body:
        assert "413" in operation["responses"], f"{method.upper()} {path}"


@pytest.mark.parametrize(
    ("size", "said"),
    [(5 << 20, "5 MiB"), (256 << 10, "256 KiB"), (1000, "1000 bytes"), (1536, "1536 bytes")],
)
def test_limits_are_described_as_a_person_would_say_them(size: int, said: str) -> None:
    assert describe_size(size) == said


def _largest_valid_sync_batch() -> bytes:
    """100 sessions of 50 entries, every text and slug at its maximum length."""
    entry = {
        "sets_done": 50,
        "reps_done": 1000,
        "hold_seconds_done": 3600,
        "difficulty": "moderate",
        "pain": 10,
        "note": "n" * 500,
    }
    sessions = [
        {
            "id": str(uuid.UUID(int=number)),
            "program": "p" * 120,
            "stage": 50,
            "performed_at": "2026-11-24T07:30:00.000000+01:00",
            "entries": [{**entry, "exercise": f"e{k:03d}" + "a" * 116} for k in range(50)],
            "note": "m" * 1000,
        }
        for number in range(100)
    ]
    return json.dumps({"sessions": sessions}).encode()


def test_the_largest_valid_sync_batch_fits_under_the_default_cap(
    client: TestClient, member: Person, settings: Settings
) -> None:
    body = _largest_valid_sync_batch()

    response = client.post(
        "/v1/me/sessions/sync",
        content=body,
        headers={**member.headers, "Content-Type": "application/json"},
    )

    assert len(body) < settings.max_body_bytes
    assert response.status_code == 200
    assert len(response.json()["results"]) == 100
