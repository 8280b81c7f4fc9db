"""`schemathesis run --checks all` against a served instance, as each kind of caller.

tests/test_schemathesis.py drives the ASGI app in process with the default checks;
this runs the command line as someone would against a deployment: a real
`rehab serve` on a free port over a freshly migrated and seeded SQLite file, and
every check schemathesis has, including the ones that send what the document
does not describe (a method it does not list, a required header left out).

The world is the in-process test's: a member, the clinic's owner and an API client
of that clinic with scopes patients:read, programs:write and webhooks:manage. Each
run covers the operations of one caller, with that caller's bearer token. The
statuses a business rule gives to a well-formed request (a wrong password, a code
that names nothing, a stale If-Match) are accepted per operation by
schemathesis.toml at the project root, each with why.

Slow (about a minute and a half on two cores), so it runs with `make schema-check`
(SCHEMATHESIS_CLI=1), which CI calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import PROJECT_ROOT, Environment, Settings
from app.core.db import Database
from tests.conftest import TEST_SECRET
from tests.core.test_openapi_document import operations
from tests.scale.servers import COMMAND, Server, _stop, _wait_ready, free_port
from tests.test_schemathesis import GENEROUS, Callers, _document_app, _world

slow = pytest.mark.skipif(
    os.environ.get("SCHEMATHESIS_CLI") != "1",
    reason="runs with make schema-check (SCHEMATHESIS_CLI=1)",
)

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = PROJECT_ROOT / "schemathesis.toml"
MAX_EXAMPLES = 10
RUN_SECONDS = 300
# Which caller each operation is meant for, as `Callers.for_case` assigns them in process.
CLIENT_PATHS = r"^/v1/clinics/\{clinic_id\}.*/(patients|webhooks)"
CLINIC_PATHS = r"^/v1/clinics"


@dataclass(frozen=True)
class Run:
    name: str
    caller: str
    filters: tuple[str, ...]
    # A request the caller can still make afterwards, so a run that lost its sign-in half
    # way (every answer a 401, which every check accepts) fails instead of passing quietly.
    still_signed_in: str | None


# Signing out and ending a sign-in (which the stateful phase finds the member's own id for,
# in the list of sign-ins) end the member's token.
SIGN_OUT = r"^/v1/auth/logout$|^/v1/me/sign-ins/\{sign_in_id\}$"
# In this order: the clinic's owner may revoke the API client, and signing out ends the
# member's sign-in, so each goes after the runs that need what it ends.
RUNS = [
    Run(
        "api_client",
        "api_client",
        ("--include-path-regex", CLIENT_PATHS),
        "/v1/clinics/{clinic_id}/patients",
    ),
    Run(
        "member",
        "member",
        ("--exclude-path-regex", f"{CLINIC_PATHS}|{SIGN_OUT}"),
        "/v1/me",
    ),
    Run(
        "clinician",
        "clinician",
        ("--include-path-regex", CLINIC_PATHS, "--exclude-path-regex", CLIENT_PATHS),
        "/v1/clinics",
    ),
    # No links lead to these two alone: no stateful phase.
    Run(
        "sign_out",
        "member",
        ("--include-path-regex", SIGN_OUT, "--phases", "examples,coverage,fuzzing"),
        None,
    ),
]


@dataclass(frozen=True)
class Served:
    url: str
    callers: Callers


def _environment(folder: Path) -> dict[str, str]:
    return {
        "ENVIRONMENT": Environment.TEST.value,
        "DATA_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'rehab.db'}",
        "SECRET_KEY": TEST_SECRET,
        "MAIL_BACKEND": "file",
        "MFA_REQUIRED_FOR_STAFF": "false",
        # Generated requests sign in, register and redeem codes by the hundred.
        "REGISTER_RATE_PER_ADDRESS": GENEROUS,
        "LOGIN_RATE_PER_ACCOUNT_AND_ADDRESS": GENEROUS,
        "LOGIN_RATE_PER_ADDRESS": GENEROUS,
        "REDEEM_RATE_PER_ACCOUNT": GENEROUS,
        # Generated webhook hosts are neither looked up nor called: nothing leaves the machine.
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_WORKER": "false",
    }


def _rehab(env: dict[str, str], folder: Path, *args: str) -> None:
    done = subprocess.run(  # noqa: S603 (our own command line)
        [*COMMAND, *args],
        env={**os.environ, **env},
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"rehab {' '.join(args)}:\n{done.stdout}{done.stderr}"


@contextmanager
def _serving(env: dict[str, str], folder: Path) -> Iterator[Server]:
    """One `rehab serve` and no worker: nothing generated is ever sent anywhere."""
    port = free_port()
    log = folder / "server.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            [*COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **env},
            cwd=folder,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            server = Server(f"http://127.0.0.1:{port}", process)
            _wait_ready(server, log)
            yield server
        finally:
            _stop(process)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    env = _environment(folder)
    _rehab(env, folder, "migrate")
    _rehab(env, folder, "seed", "--placeholder-media")
    settings = Settings(
        environment=Environment.TEST,
        database_url=env["DATABASE_URL"],
        data_dir=folder,
        secret_key=TEST_SECRET,
    )
    database = Database.from_settings(settings)
    try:
        with _serving(env, folder) as server, httpx.Client(base_url=server.url) as http:
            yield Served(server.url, _world(http, database, settings))
    finally:
        database.dispose()


@slow
@pytest.mark.parametrize("run", RUNS, ids=[run.name for run in RUNS])
def test_schemathesis_checks_all_pass_against_a_served_instance(served: Served, run: Run) -> None:
    headers: dict[str, str] = getattr(served.callers, run.caller)
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{served.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        # The same cases every run: no seed is used in this mode, nor any example database
        # an earlier run left behind.
        "--generation-deterministic",
        "--no-shrink",
        "--workers",
        "1",
        "--no-color",
        "--header",
        f"Authorization:{headers['Authorization']}",
        *run.filters,
    ]
    done = subprocess.run(  # noqa: S603 (our own command line)
        command,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-20000:]}{done.stderr}"
    if run.still_signed_in is not None:
        path = run.still_signed_in.format(clinic_id=served.callers.clinic_id)
        answer = httpx.get(f"{served.url}{path}", headers=headers, timeout=10)
        assert answer.status_code == 200, f"{run.caller} was signed out during the run"


# What each check accepts when schemathesis.toml says nothing more.
DEFAULT_STATUSES = {
    "positive_data_acceptance": {"2xx", "3xx", "401", "403", "404", "409", "429", "5xx"},
    "missing_required_header": {"400", "401", "403", "406", "415", "422"},
}


def _configured() -> Iterator[tuple[str, str, set[str]]]:
    """(operation id, check, statuses added to the check's defaults) for each entry."""
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    for entry in config["operations"]:
        checks: dict[str, Any] = entry["checks"]
        for check, settings in checks.items():
            added = set(settings["expected-statuses"]) - DEFAULT_STATUSES[check]
            for operation_id in entry["include-operation-id"]:
                yield operation_id, check, added


def test_every_status_schemathesis_toml_accepts_is_documented_by_its_operation() -> None:
    spec = _document_app().openapi()
    documented = {
        operation["operationId"]: set(operation["responses"]) for _, operation in operations(spec)
    }
    undocumented = [
        (operation_id, check, sorted(added - documented.get(operation_id, set())))
        for operation_id, check, added in _configured()
        if operation_id not in documented or added - documented[operation_id]
    ]
    assert undocumented == []


def test_schemathesis_toml_names_each_operation_once_per_check() -> None:
    named = [(operation_id, check) for operation_id, check, _ in _configured()]
    assert sorted(named) == sorted(set(named))
