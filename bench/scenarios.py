"""The benchmark scenarios, and how each becomes a wrk load against a running server.

Every scenario is probed with one request before it is measured, so a wrong
status (an expired token, a 422 from a bad body) is reported with its body
instead of surfacing as a mysteriously fast run full of errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import httpx

from app.core.models import utcnow
from bench.dataset import Account, Dataset
from bench.wrk import Load

LUA_SCRIPT = Path(__file__).with_name("put_session.lua")
READ_P99_LIMIT_MS = 40.0
SIZE_TOLERANCE = 0.15  # S6 may be this much slower than S1/S2; two instances than one

Who = Literal["anonymous", "reader", "writer"]


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    server: Literal["reference", "api"]
    path: str
    who: Who = "anonymous"
    writes: bool = False
    min_ratio: float | None = None
    p99_limit_ms: float | None = None
    same_as: str | None = None  # S6: compared with this scenario at the normal size
    instances: int = 1  # 2: half the connections to each of two API instances on one database
    # Where the production store is held to more than the embedded one (S5: group commit
    # on PostgreSQL); None: `min_ratio` on both.
    postgresql_min_ratio: float | None = None

    def path_for(self, dataset: Dataset) -> str:
        return self.path.format(program=dataset.program)

    def floor(self, database_kind: str) -> float | None:
        """The lowest ratio to the reference this scenario may reach on that database."""
        if database_kind == "postgresql" and self.postgresql_min_ratio is not None:
            return self.postgresql_min_ratio
        return self.min_ratio


PROGRAM_PATH = "/v1/programs/{program}"
SEARCH_PATH = "/v1/exercises?limit=20&q=stretch"
PROGRESS_PATH = "/v1/me/progress"
TODAY_PATH = "/v1/me/today?tz=Europe/London"
SESSIONS_PATH = "/v1/me/sessions/"  # put_session.lua appends a new UUID per request


def _read(
    key: str,
    title: str,
    path: str,
    *,
    who: Who = "anonymous",
    min_ratio: float | None = None,
    same_as: str | None = None,
    instances: int = 1,
) -> Scenario:
    """A read scenario: every read must keep p99 within the limit."""
    return Scenario(
        key,
        title,
        "api",
        path,
        who=who,
        min_ratio=min_ratio,
        p99_limit_ms=READ_P99_LIMIT_MS,
        same_as=same_as,
        instances=instances,
    )


REF = Scenario("REF", "hello-world (reference app)", "reference", "/")
MAIN = (
    _read("S1", "program, anonymous", PROGRAM_PATH, min_ratio=0.70),
    _read("S2", "program, signed in (stage 2)", PROGRAM_PATH, who="reader", min_ratio=0.40),
    _read("S3", "exercise search, anonymous", SEARCH_PATH, min_ratio=0.40),
    _read("S4", "my progress, signed in", PROGRESS_PATH, who="reader", min_ratio=0.25),
    _read("S7", "today (home screen), signed in", TODAY_PATH, who="reader", min_ratio=0.25),
    Scenario(
        "S5",
        "log a new session, signed in",
        "api",
        SESSIONS_PATH,
        who="writer",
        writes=True,
        min_ratio=0.10,
        postgresql_min_ratio=0.15,
    ),
)
# PostgreSQL only: a second instance on the same database, each taking half the connections
# (as a load balancer spreads them). Each at least as fast as one instance; the writers of
# S5x2 are two people, one per instance, as different people's phones reach different ones.
TWO_INSTANCES = (
    _read(
        "S2x2",
        "program, signed in, two instances",
        PROGRAM_PATH,
        who="reader",
        same_as="S2",
        instances=2,
    ),
    Scenario(
        "S5x2",
        "log a new session, two instances",
        "api",
        SESSIONS_PATH,
        who="writer",
        writes=True,
        same_as="S5",
        instances=2,
    ),
)
TENFOLD = (
    _read("S6-anon", "program, anonymous, catalogue x10", PROGRAM_PATH, same_as="S1"),
    _read("S6-auth", "program, signed in, catalogue x10", PROGRAM_PATH, who="reader", same_as="S2"),
)


def sign_in(base_url: str, account: Account) -> str:
    """An access token by the OAuth2 password flow, as a mobile app gets one."""
    answer = httpx.post(
        f"{base_url}/v1/auth/token",
        data={"grant_type": "password", "username": account.email, "password": account.password},
        timeout=30.0,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"sign-in as {account.email}: {answer.status_code} {answer.text[:300]}")
    token: str = answer.json()["access_token"]
    return token


def session_body(dataset: Dataset, performed_at: str) -> dict[str, Any]:
    """The S5 body (put_session.lua writes the same JSON)."""
    entry = {"exercise": dataset.stage1_exercise, "sets_done": 2, "reps_done": 10}
    return {
        "program": dataset.program,
        "stage": 1,
        "performed_at": performed_at,
        "entries": [entry | {"difficulty": "easy", "pain": 1}],
    }


@dataclass(frozen=True, slots=True)
class Target:
    """A scenario made concrete: the load for wrk, and one request that checks it works."""

    scenario: Scenario
    load: Load
    method: str
    probe_url: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None

    def probe(self) -> str | None:
        """None when one request answers 2xx; else the status and the start of the body."""
        try:
            answer = httpx.request(
                self.method, self.probe_url, headers=self.headers, json=self.body, timeout=30.0
            )
        except httpx.HTTPError as exc:
            return f"probe failed: {exc}"
        if answer.is_success:
            return None
        return f"probe answered {answer.status_code}: {answer.text[:300]}"


def target_for(
    scenario: Scenario, base_url: str, dataset: Dataset, tokens: Mapping[Who, str]
) -> Target:
    headers = (
        {} if scenario.who == "anonymous" else {"Authorization": f"Bearer {tokens[scenario.who]}"}
    )
    wrk_headers = tuple(f"{name}: {value}" for name, value in headers.items())
    url = base_url + scenario.path_for(dataset)
    if not scenario.writes:
        return Target(scenario, Load(url, wrk_headers), "GET", url, headers)
    performed_at = (utcnow() - timedelta(minutes=1)).isoformat(timespec="seconds")
    args = (performed_at, dataset.stage1_exercise, dataset.program)
    load = Load(url, wrk_headers, LUA_SCRIPT, args)
    body = session_body(dataset, performed_at)
    return Target(scenario, load, "PUT", f"{url}{uuid.uuid4()}", headers, body)
