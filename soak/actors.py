"""Real actors, set up the way people and operators would: the `rehab` command and the API.

An administrator (CLI) creates a clinic and makes a clinician its owner;
members register and sign in, redeem the clinician's invitations (consent),
and enroll; the clinic subscribes a webhook to every event type. So the
soak's writes reach the outbox and its clinician reads see real patients.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.database import command_env
from soak.config import SoakConfig
from soak.plan import ADVANCE_PROGRAM, SESSION_PROGRAM, Member

PASSWORD = "soak passphrase 31415"  # noqa: S105 (throwaway accounts in a throwaway database)
ADMIN_EMAIL = "soak-admin@example.com"
CLINICIAN_EMAIL = "soak-clinician@example.com"
EVENT_TYPES = (
    "session.logged",
    "stage.advanced",
    "pain.reported",
    "link.created",
    "link.revoked",
    "program.assigned",
)
SIGN_UP_THREADS = 4  # argon2 takes ~0.1 s and 64 MiB a hash: a few at a time


@dataclass(frozen=True, slots=True)
class Cast:
    clinic_id: int
    clinician_token: str
    members: list[Member]
    stage1_exercises: list[str]
    pain_limit: int


def create_admin(config: SoakConfig) -> None:
    """The operator's step: `rehab create-admin`, password from the environment."""
    env = command_env(config.bench(), REHAB_ADMIN_PASSWORD=PASSWORD)
    done = subprocess.run(  # noqa: S603 (our own command line, no shell)
        [str(Path(sys.executable).with_name("rehab")), "create-admin", ADMIN_EMAIL],
        cwd=config.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`rehab create-admin` failed:\n{done.stdout}{done.stderr}")


class Api:
    """A thin client that fails loudly: setup must work before any traffic means anything."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60.0)

    def call(
        self, method: str, path: str, *, token: str | None = None, expect: int = 200, **kw: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = self.client.request(method, path, headers=headers, **kw)
        if answer.status_code != expect:
            raise RuntimeError(
                f"{method} {path}: expected {expect}, got {answer.status_code} {answer.text[:300]}"
            )
        return answer.json() if answer.content else None

    def register(self, email: str, name: str) -> int:
        body = {"email": email, "password": PASSWORD, "display_name": name}
        user_id: int = self.call("POST", "/v1/auth/register", json=body, expect=201)["id"]
        return user_id

    def sign_in(self, email: str) -> str:
        form = {"grant_type": "password", "username": email, "password": PASSWORD}
        token: str = self.call("POST", "/v1/auth/token", data=form)["access_token"]
        return token

    def close(self) -> None:
        self.client.close()


def set_up(base_url: str, *, members: int, webhook_url: str) -> Cast:
    api = Api(base_url)
    try:
        return _set_up(api, members=members, webhook_url=webhook_url)
    finally:
        api.close()


def _set_up(api: Api, *, members: int, webhook_url: str) -> Cast:
    admin = api.sign_in(ADMIN_EMAIL)
    api.register(CLINICIAN_EMAIL, "Soak Clinician")
    clinician = api.sign_in(CLINICIAN_EMAIL)
    clinic_id: int = api.call(
        "POST", "/v1/clinics", token=admin, json={"name": "Soak Physio"}, expect=201
    )["id"]
    api.call(
        "POST",
        f"/v1/clinics/{clinic_id}/members",
        token=admin,
        json={"email": CLINICIAN_EMAIL, "role": "owner"},
        expect=201,
    )
    api.call(
        "POST",
        f"/v1/clinics/{clinic_id}/webhooks",
        token=clinician,
        json={"url": webhook_url, "event_types": list(EVENT_TYPES)},
        expect=201,
    )
    with ThreadPoolExecutor(SIGN_UP_THREADS) as pool:
        cast = list(pool.map(lambda i: _member(api, i, clinic_id, clinician), range(members)))
    program = api.call("GET", f"/v1/programs/{SESSION_PROGRAM}")
    stage1 = program["stages"][0]
    return Cast(
        clinic_id=clinic_id,
        clinician_token=clinician,
        members=cast,
        stage1_exercises=[item["exercise"]["slug"] for item in stage1["exercises"]],
        pain_limit=int(stage1["rule"]["max_pain"]),
    )


def _member(api: Api, index: int, clinic_id: int, clinician: str) -> Member:
    """Sign up, consent to the clinic (invitation code), follow both programs."""
    email = f"soak-member-{index + 1:03d}@example.com"
    user_id = api.register(email, f"Soak Member {index + 1}")
    token = api.sign_in(email)
    code = api.call("POST", f"/v1/clinics/{clinic_id}/invitations", token=clinician, expect=201)
    api.call("POST", "/v1/me/clinic-links", token=token, json={"code": code["code"]}, expect=201)
    for program in (SESSION_PROGRAM, ADVANCE_PROGRAM):
        api.call("POST", "/v1/me/enrollments", token=token, json={"program": program}, expect=201)
    return Member(user_id=user_id, email=email, token=token)
