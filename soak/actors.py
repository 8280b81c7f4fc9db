"""Real actors, set up the way people and operators would: the `rehab` command and the API.

An administrator (CLI) turns on two-step sign-in, creates a clinic and
invites a clinician as its owner; the clinician verifies their address from
the mail, accepts, and turns on two-step sign-in too. Members register,
verify, redeem the clinician's invitations (consent) and enroll; the clinic
subscribes a webhook to every event type. So the soak's writes reach the
outbox and its clinician reads see real patients. Mail goes to files
(`MAIL_BACKEND=file`), which the soak reads as a person reads their inbox.
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp

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
MAIL_WAIT_SECONDS = 30.0
PASTED_CODE = re.compile(r"paste this code into the app: (\S+)")
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

    def __init__(self, base_url: str, mail_dir: Path) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60.0)
        self.mail_dir = mail_dir

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

    def sign_in(self, address: str, otp: str | None = None) -> str:
        form = {"grant_type": "password", "username": address, "password": PASSWORD}
        if otp is not None:
            form["otp"] = otp
        token: str = self.call("POST", "/v1/auth/token", data=form)["access_token"]
        return token

    def verify(self, address: str) -> None:
        """Confirm the address with the code from its verification mail."""
        token = self.pasted_code(address, "Confirm your email address")
        self.call("POST", "/v1/auth/verify-email", json={"token": token}, expect=204)

    def with_second_factor(self, address: str, token: str) -> str:
        """Turn on two-step sign-in, then sign in again with one of the recovery codes
        (the authenticator's current code was just spent on the confirmation)."""
        started = self.call(
            "POST", "/v1/me/mfa/totp", token=token, json={"password": PASSWORD}, expect=201
        )
        code = pyotp.TOTP(started["secret"]).now()
        confirmed = self.call("POST", "/v1/me/mfa/totp/confirm", token=token, json={"code": code})
        return self.sign_in(address, otp=confirmed["recovery_codes"][0])

    def pasted_code(self, address: str, subject: str) -> str:
        deadline = time.monotonic() + MAIL_WAIT_SECONDS
        while time.monotonic() < deadline:
            for path in sorted(self.mail_dir.glob("*.eml")):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if message["To"] != address or not str(message["Subject"]).startswith(subject):
                    continue
                body = message.get_body(("plain",))
                found = PASTED_CODE.search(body.get_content() if body else "")
                if found:
                    return found.group(1)
            time.sleep(0.2)
        raise RuntimeError(f"no mail {subject!r} reached {address} in {self.mail_dir}")

    def close(self) -> None:
        self.client.close()


def set_up(base_url: str, *, members: int, webhook_url: str, mail_dir: Path) -> Cast:
    api = Api(base_url, mail_dir)
    try:
        return _set_up(api, members=members, webhook_url=webhook_url)
    finally:
        api.close()


def _set_up(api: Api, *, members: int, webhook_url: str) -> Cast:
    admin = api.with_second_factor(ADMIN_EMAIL, api.sign_in(ADMIN_EMAIL))
    api.register(CLINICIAN_EMAIL, "Soak Clinician")
    api.verify(CLINICIAN_EMAIL)
    clinic_id: int = api.call(
        "POST", "/v1/clinics", token=admin, json={"name": "Soak Physio"}, expect=201
    )["id"]
    invitation = api.call(
        "POST",
        f"/v1/clinics/{clinic_id}/staff-invitations",
        token=admin,
        json={"email": CLINICIAN_EMAIL, "role": "owner"},
        expect=201,
    )
    clinician = api.sign_in(CLINICIAN_EMAIL)
    api.call(
        "POST",
        "/v1/me/staff-invitations",
        token=clinician,
        json={"code": invitation["code"]},
        expect=201,
    )
    clinician = api.with_second_factor(CLINICIAN_EMAIL, clinician)
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
    """Sign up, verify, consent to the clinic (invitation code), follow both programs."""
    address = f"soak-member-{index + 1:03d}@example.com"
    user_id = api.register(address, f"Soak Member {index + 1}")
    api.verify(address)
    token = api.sign_in(address)
    code = api.call("POST", f"/v1/clinics/{clinic_id}/invitations", token=clinician, expect=201)
    api.call("POST", "/v1/me/clinic-links", token=token, json={"code": code["code"]}, expect=201)
    for program in (SESSION_PROGRAM, ADVANCE_PROGRAM):
        api.call("POST", "/v1/me/enrollments", token=token, json={"program": program}, expect=201)
    return Member(user_id=user_id, email=address, token=token)
