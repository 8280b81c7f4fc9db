"""Structured logs: JSON lines with the request id, and never a password, token or secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Environment, LogFormat, Settings
from app.core.db import Database
from app.core.logs import REDACTED, redact
from app.main import create_app

PASSWORD = "correct horse battery 42"
NEW_PASSWORD = "another sturdy phrase 77"


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_logs_are_json_except_in_development() -> None:
    assert Settings(environment=Environment.PRODUCTION).resolved_log_format == LogFormat.JSON
    assert Settings(environment=Environment.TEST).resolved_log_format == LogFormat.JSON
    assert Settings(environment=Environment.DEVELOPMENT).resolved_log_format == LogFormat.TEXT
    overridden = Settings(environment=Environment.DEVELOPMENT, log_format=LogFormat.JSON)
    assert overridden.resolved_log_format == LogFormat.JSON


def test_one_access_line_per_request(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.get("/v1/nothing/42", headers={"X-Request-ID": "trace-1"})
    lines = [line for line in log_lines(capsys.readouterr().err) if line["logger"] == "app.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["level"] == "INFO"
    assert line["request_id"] == "trace-1"
    assert (line["method"], line["route"], line["status"]) == ("GET", "<unmatched>", 404)
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00")


def test_the_access_line_names_the_route_template(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.get("/v1/programs/no-such-program")
    (line,) = [
        line for line in log_lines(capsys.readouterr().err) if line["logger"] == "app.access"
    ]
    assert line["route"] == "/v1/programs/{slug}"
    assert "no-such-program" not in json.dumps(line)


@pytest.fixture
def text_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"environment": Environment.DEVELOPMENT})
    with TestClient(create_app(configured, database=database)) as test_client:
        yield test_client


def test_development_logs_are_readable_lines(
    text_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    text_client.get("/healthz", headers={"X-Request-ID": "dev-1"})
    err = capsys.readouterr().err
    assert " INFO app.access [dev-1] GET /healthz 200 " in err
    assert not err.lstrip().startswith("{")


def test_the_access_log_can_be_switched_off(
    settings: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"access_log": False}), database=database)
    with TestClient(app) as quiet:
        capsys.readouterr()
        assert quiet.get("/healthz").status_code == 200
    assert "app.access" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("grant_type=password&username=sam%40example.com&password=hunter2hunter2", "hunter2"),
        ('{"email": "sam@example.com", "password": "hunter2hunter2"}', "hunter2"),
        ("{'current_password': 'hunter2hunter2', 'new_password': 'x'}", "hunter2"),
        ("Authorization: Bearer abc.def.ghi", "abc.def"),
        ("[(b'authorization', b'Basic c2FtOnNlY3JldA==')]", "c2FtOnNlY3JldA"),
        ("[(b'cookie', b'session=s3cr3t; theme=dark')]", "s3cr3t"),
        ("Cookie: session=s3cr3t; theme=dark", "s3cr3t"),
        (
            '{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig","token_type":"bearer"}',
            "eyJ",
        ),
        ("refresh_token=opaque-refresh-value&grant_type=refresh_token", "opaque-refresh"),
        ("client_id=rc_1&client_secret=Zm9vYmFyYmF6", "Zm9vYmFyYmF6"),
        ("created webhook with whsec_Q2xpbmljU2VjcmV0", "Q2xpbmljU2VjcmV0"),
        ("signature=8f2a9c&expires=1700000000", "8f2a9c"),
        ("[type=string_too_short, input_value='hunter2', input_type=str]", "hunter2"),
    ],
)
def test_redaction_removes_credentials_in_every_usual_shape(text: str, secret: str) -> None:
    scrubbed = redact(text)
    assert secret not in scrubbed
    assert REDACTED in scrubbed


def test_redaction_leaves_ordinary_lines_alone() -> None:
    line = "GET /v1/programs/{slug} 200 1.2ms; 3 sessions for sam@example.com"
    assert redact(line) == line


class DumpEverything:
    """A careless debug layer: logs each request's headers and body, and each response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = logging.getLogger("app.debugging")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.logger.debug("request headers %s", scope["headers"])

        async def logged_receive() -> Message:
            message = await receive()
            self.logger.debug("request body %s", message.get("body", b"").decode())
            return message

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.logger.debug("response body %r", message.get("body", b""))
            await send(message)

        await self.app(scope, logged_receive, logged_send)


@pytest.fixture
def careless_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"log_level": "DEBUG"}), database=database)
    app.add_middleware(DumpEverything)
    with TestClient(app) as test_client:
        yield test_client


def test_logging_whole_requests_still_leaks_no_password_or_token(
    careless_client: TestClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = careless_client
    registered = client.post(
        "/v1/auth/register",
        json={"email": "sam@example.com", "password": PASSWORD, "display_name": "Sam"},
    )
    assert registered.status_code == 201, registered.text
    form = {"grant_type": "password", "username": "sam@example.com", "password": PASSWORD}
    tokens = client.post("/v1/auth/token", data=form).json()
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    ).json()
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert client.get("/v1/me", headers=bearer).status_code == 200
    changed = client.post(
        "/v1/me/password",
        headers=bearer,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code in (200, 204), changed.text

    output = capsys.readouterr().err + caplog.text
    assert "request body" in output  # the careless layer did log every request
    assert "sam@example.com" in output
    for secret in (
        PASSWORD,
        NEW_PASSWORD,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
    ):
        assert secret not in output


class Credentials(BaseModel):
    password: str = Field(min_length=30)


def test_tracebacks_and_extra_fields_are_scrubbed(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = logging.getLogger("app.testing")
    capsys.readouterr()
    try:
        Credentials(password=PASSWORD)
    except ValidationError:
        logger.exception("could not read the credentials")
    logger.warning("client created", extra={"client_secret": "Zm9vYmFyYmF6", "clinic": 3})
    err = capsys.readouterr().err
    assert PASSWORD not in err
    assert "Zm9vYmFyYmF6" not in err
    lines = log_lines(err)
    assert "ValidationError" in lines[0]["exception"]
    assert lines[1]["client_secret"] == REDACTED
    assert lines[1]["clinic"] == 3


def test_a_malformed_log_call_is_still_written_scrubbed_and_never_raises(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    logging.getLogger("app.testing").warning("%s and %s", "password=hunter2hunter2")
    (line,) = log_lines(capsys.readouterr().err)
    assert "arguments did not fit" in line["message"]
    assert "hunter2" not in line["message"]
