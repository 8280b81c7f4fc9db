"""Every write route's effect is served by the very next read, through every cache.

The app here remembers a token's subject and viewer for 30 s and checks the
content version once an hour, so nothing below passes by expiry or polling: a
read is fresh only because the write recorded what it changed and the one
reactor forgot what depended on it. The write routes are enumerated from the
app: a new one must say here how its effect is read, or why nothing cached
depends on it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pyotp
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.config import PROJECT_ROOT, Settings
from app.core.db import Database
from app.core.models import utcnow
from app.identity.models import TotpFactor
from app.main import create_app
from app.outbox.models import Channel, OutboxMessage
from app.outcomes.instruments import apply_seed, read_seed
from tests.authoring.conftest import Editor
from tests.authoring.test_media import MP4, PNG
from tests.conftest import (
    ClinicSetup,
    Person,
    PersonFactory,
    add_staff,
    create_api_client,
    link,
    sign_in,
)
from tests.factories import condition, exercise, program
from tests.mailbox import TOKEN
from tests.progress.conftest import session_body

PROGRAM = "fresh-plan"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def catalogue(database: Database) -> None:
    plan = program(PROGRAM, ["fresh-hip"], [["alpha-move"], ["beta-move"]])
    plan["stages"][0]["rule"] = {"min_days": 0, "min_sessions": 1, "all_exercises_easy": False}
    bundle = ContentBundle.model_validate(
        {
            "conditions": [condition("fresh-hip")],
            "exercises": [exercise(slug) for slug in ("alpha-move", "beta-move", "gamma-move")],
            "programs": [plan],
        }
    )
    with database.write_session() as session:
        apply_content(session, bundle)


@pytest.fixture
def fresh(settings: Settings, database: Database, catalogue: None) -> Iterator[TestClient]:
    remembering = settings.model_copy(
        update={"viewer_cache_seconds": 30, "content_poll_seconds": 3600}
    )
    with TestClient(create_app(remembering, database=database)) as test_client:
        yield test_client


@dataclass
class World:
    client: TestClient
    database: Database
    admin: Person
    member: Person  # follows PROGRAM
    clinic: ClinicSetup
    patient: Person  # linked to the clinic, follows PROGRAM
    make_person: PersonFactory

    def get(self, path: str, person: Person | None = None) -> httpx2.Response:
        return self.client.get(path, headers=person.headers if person else None)

    def json(self, path: str, person: Person | None = None) -> Any:
        response = self.get(path, person)
        assert response.status_code == 200, response.text
        return response.json()

    def stage_two(self, person: Person | None = None) -> dict[str, Any]:
        """The first exercise of PROGRAM's stage 2, as `person` sees it (warming the caches)."""
        for _ in range(2):
            detail = self.json(f"/v1/programs/{PROGRAM}", person)
        exercise_: dict[str, Any] = detail["stages"][1]["exercises"][0]["exercise"]
        return exercise_

    def sessions_this_week(self, person: Person) -> int:
        for _ in range(2):
            found = self.json("/v1/me/progress", person)["programs"]
        return sum(p["sessions_last_7_days"] for p in found)

    def log(self, person: Person, session_id: str | None = None) -> str:
        key = session_id or str(uuid.uuid4())
        response = self.client.put(
            f"/v1/me/sessions/{key}",
            headers=person.headers,
            json=session_body(PROGRAM, 1, ["alpha-move"]),
        )
        assert response.status_code in (200, 201), response.text
        return key

    @property
    def editor(self) -> Editor:
        return Editor(self.client, self.admin)


@pytest.fixture
def world(
    fresh: TestClient,
    database: Database,
    make_person: PersonFactory,
    make_clinic: Callable[..., ClinicSetup],
    admin: Person,
) -> World:
    member, patient = make_person(), make_person()
    clinic = make_clinic()
    link(fresh, clinic, patient)
    for person in (member, patient):
        enrolled = fresh.post(
            "/v1/me/enrollments", headers=person.headers, json={"program": PROGRAM}
        )
        assert enrolled.status_code == 201, enrolled.text
    return World(fresh, database, admin, member, clinic, patient, make_person)


def ok(response: httpx2.Response, *statuses: int) -> None:
    assert response.status_code in (statuses or (200, 201, 204)), response.text


# ---------------------------------------------------------------------------
# A person's own progress: the viewer and progress report caches


def enroll(w: World) -> None:
    newcomer = w.make_person()
    assert w.stage_two(newcomer)["lock"]["unlock_hint"].startswith("Complete stage 1")
    ok(w.client.post("/v1/me/enrollments", headers=newcomer.headers, json={"program": PROGRAM}))
    assert "log 1 more session" in w.stage_two(newcomer)["lock"]["unlock_hint"]


def leave(w: World) -> None:
    assert "log 1 more session" in w.stage_two(w.member)["lock"]["unlock_hint"]
    ok(w.client.delete(f"/v1/me/enrollments/{PROGRAM}", headers=w.member.headers))
    assert w.stage_two(w.member)["lock"]["unlock_hint"].startswith("Complete stage 1")


def advance(w: World) -> None:
    w.log(w.member)
    assert w.stage_two(w.member)["access"] == "locked"
    ok(w.client.post(f"/v1/me/enrollments/{PROGRAM}/advance", headers=w.member.headers))
    assert w.stage_two(w.member)["access"] == "unlocked"


def put_session(w: World) -> None:
    assert w.sessions_this_week(w.member) == 0
    assert "log 1 more session" in w.stage_two(w.member)["lock"]["unlock_hint"]
    w.log(w.member)
    assert w.sessions_this_week(w.member) == 1
    assert "log 1 more session" not in w.stage_two(w.member)["lock"]["unlock_hint"]


def sync_sessions(w: World) -> None:
    assert w.sessions_this_week(w.member) == 0
    body = {"sessions": [{"id": str(uuid.uuid4()), **session_body(PROGRAM, 1, ["alpha-move"])}]}
    ok(w.client.post("/v1/me/sessions/sync", headers=w.member.headers, json=body))
    assert w.sessions_this_week(w.member) == 1


def delete_session(w: World) -> None:
    key = w.log(w.member)
    assert w.sessions_this_week(w.member) == 1
    ok(w.client.delete(f"/v1/me/sessions/{key}", headers=w.member.headers))
    assert w.sessions_this_week(w.member) == 0


# ---------------------------------------------------------------------------
# Accounts and sign-ins: the subject cache


def update_me(w: World) -> None:
    assert w.json("/v1/me", w.member)["display_name"] != "Renamed"
    ok(w.client.patch("/v1/me", headers=w.member.headers, json={"display_name": "Renamed"}))
    assert w.json("/v1/me", w.member)["display_name"] == "Renamed"


def change_password(w: World) -> None:
    other = sign_in(w.client, w.member.email, w.member.password)
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert w.client.get("/v1/me", headers=other_headers).status_code == 200
    body = {"current_password": w.member.password, "new_password": "another sturdy phrase 77"}
    ok(w.client.post("/v1/me/password", headers=w.member.headers, json=body))
    assert w.client.get("/v1/me", headers=other_headers).status_code == 401


def logout(w: World) -> None:
    assert w.get("/v1/me", w.member).status_code == 200
    ok(w.client.post("/v1/auth/logout", headers=w.member.headers))
    assert w.get("/v1/me", w.member).status_code == 401


def reuse_refresh_token(w: World) -> None:
    assert w.get("/v1/me", w.member).status_code == 200
    grant = {"grant_type": "refresh_token", "refresh_token": w.member.refresh_token}
    ok(w.client.post("/v1/auth/token", data=grant))
    ok(w.client.post("/v1/auth/token", data=grant), 400)  # reused: the sign-in ends
    assert w.get("/v1/me", w.member).status_code == 401


def mailed_token(w: World, person: Person) -> str:
    """The token of the newest mail owed to `person` (read from the outbox)."""
    with w.database.read_session() as session:
        payload = session.exec(
            select(OutboxMessage.payload)
            .where(OutboxMessage.user_id == person.id, OutboxMessage.channel == Channel.MAIL)
            .order_by(col(OutboxMessage.id).desc())
        ).first()
    assert payload is not None
    found = TOKEN.search(str(payload["text"]))
    assert found is not None
    return found.group(1)


def verify_email(w: World) -> None:
    newcomer = w.make_person(verified=False)
    for _ in range(2):
        assert w.json("/v1/me", newcomer)["email_verified"] is False
    ok(w.client.post("/v1/auth/verify-email/resend", headers=newcomer.headers), 202)
    token = mailed_token(w, newcomer)
    ok(w.client.post("/v1/auth/verify-email", json={"token": token}))
    assert w.json("/v1/me", newcomer)["email_verified"] is True


def confirm_password_reset(w: World) -> None:
    assert w.get("/v1/me", w.member).status_code == 200
    ok(w.client.post("/v1/auth/password-reset", json={"email": w.member.email}), 202)
    body = {"token": mailed_token(w, w.member), "new_password": "another sturdy phrase 77"}
    ok(w.client.post("/v1/auth/password-reset/confirm", json=body))
    assert w.get("/v1/me", w.member).status_code == 401


def end_sign_in(w: World) -> None:
    other = sign_in(w.client, w.member.email, w.member.password)
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    for _ in range(2):
        assert w.client.get("/v1/me", headers=other_headers).status_code == 200
    listed = w.json("/v1/me/sign-ins", w.member)
    [theirs] = [s["id"] for s in listed if not s["current"]]
    ok(w.client.delete(f"/v1/me/sign-ins/{theirs}", headers=w.member.headers))
    assert w.client.get("/v1/me", headers=other_headers).status_code == 401


def delete_account(w: World) -> None:
    assert w.get(f"/v1/programs/{PROGRAM}", w.member).status_code == 200
    w.stage_two(w.member)
    body = {"current_password": w.member.password}
    ok(w.client.request("DELETE", "/v1/me", headers=w.member.headers, json=body))
    assert w.get(f"/v1/programs/{PROGRAM}", w.member).status_code == 401


def disable_account(w: World) -> None:
    w.stage_two(w.member)  # the catalogue replay knows the token now
    ok(
        w.client.patch(
            f"/v1/admin/users/{w.member.id}", headers=w.admin.headers, json={"disabled": True}
        )
    )
    assert w.get(f"/v1/programs/{PROGRAM}", w.member).status_code == 401
    assert w.get("/v1/me", w.member).status_code == 401


def enrol(w: World) -> str:
    """Turn on `w.member`'s authenticator app; answers its key."""
    started = w.client.post(
        "/v1/me/mfa/totp", headers=w.member.headers, json={"password": w.member.password}
    )
    ok(started)
    secret: str = started.json()["secret"]
    for _ in range(2):
        assert not w.json("/v1/me/mfa", w.member)["this_sign_in_verified"]
    code = pyotp.TOTP(secret).now()
    ok(w.client.post("/v1/me/mfa/totp/confirm", headers=w.member.headers, json={"code": code}))
    return secret


def confirm_second_factor(w: World) -> None:
    enrol(w)
    assert w.json("/v1/me/mfa", w.member)["this_sign_in_verified"]


def turn_off_second_factor(w: World) -> None:
    secret = enrol(w)
    for _ in range(2):
        assert w.json("/v1/me/mfa", w.member)["this_sign_in_verified"]
    with w.database.write_session() as session:  # as if 30 seconds went by
        session.execute(update(TotpFactor).values(last_step=0))
    body = {"password": w.member.password, "code": pyotp.TOTP(secret).now()}
    ok(w.client.request("DELETE", "/v1/me/mfa", headers=w.member.headers, json=body))
    assert not w.json("/v1/me/mfa", w.member)["this_sign_in_verified"]


def end_sign_ins_by_operator(w: World) -> None:
    w.stage_two(w.member)
    ok(w.client.delete(f"/v1/admin/users/{w.member.id}/sign-ins", headers=w.admin.headers))
    assert w.get(f"/v1/programs/{PROGRAM}", w.member).status_code == 401


# ---------------------------------------------------------------------------
# Clinics: staff, patients' stages, the clinic's own programs, API clients


def accept_staff_invitation(w: World) -> None:
    newcomer = w.make_person()
    invited = w.client.post(
        w.clinic.path("/staff-invitations"),
        headers=w.clinic.owner.headers,
        json={"email": newcomer.email, "role": "clinician"},
    )
    ok(invited)
    assert w.stage_two(newcomer)["access"] == "locked"
    accepted = w.client.post(
        "/v1/me/staff-invitations",
        headers=newcomer.headers,
        json={"code": invited.json()["code"]},
    )
    ok(accepted)
    assert w.stage_two(newcomer)["access"] == "unlocked"  # clinicians see every stage


def remove_member(w: World) -> None:
    owner = w.clinic.owner
    assert w.stage_two(owner)["access"] == "unlocked"
    second = w.make_person()
    add_staff(w.client, w.clinic.id, owner.headers, second, "owner")
    ok(w.client.delete(w.clinic.path(f"/members/{owner.id}"), headers=second.headers))
    assert w.stage_two(owner)["access"] == "locked"


def assign_program(w: World) -> None:
    ok(w.client.delete(f"/v1/me/enrollments/{PROGRAM}", headers=w.patient.headers))
    assert w.stage_two(w.patient)["lock"]["unlock_hint"].startswith("Complete stage 1")
    ok(
        w.client.post(
            w.clinic.path(f"/patients/{w.patient.id}/enrollments"),
            headers=w.clinic.owner.headers,
            json={"program": PROGRAM},
        )
    )
    assert "log 1 more session" in w.stage_two(w.patient)["lock"]["unlock_hint"]


def set_patient_stage(w: World) -> None:
    assert w.stage_two(w.patient)["access"] == "locked"
    ok(
        w.client.put(
            w.clinic.path(f"/patients/{w.patient.id}/enrollments/{PROGRAM}/stage"),
            headers=w.clinic.owner.headers,
            json={"stage": 2, "reason": "Seen in clinic."},
        )
    )
    assert w.stage_two(w.patient)["access"] == "unlocked"


def clinic_program_body(name: str) -> dict[str, Any]:
    return {
        "slug": "own-plan",
        "name": name,
        "description": "The clinic's own.",
        "stages": [
            {
                "position": 1,
                "name": "Only",
                "guidance": "Daily.",
                "exercises": [{"exercise": "alpha-move", "sets": 2, "reps": 8}],
            }
        ],
    }


def own_program_name(w: World) -> int | str:
    response = w.get(f"/v1/programs/clinic-{w.clinic.id}-own-plan", w.clinic.owner)
    if response.status_code != 200:
        return response.status_code
    name: str = response.json()["name"]
    return name


def create_clinic_program(w: World) -> None:
    assert own_program_name(w) == 404
    ok(
        w.client.post(
            w.clinic.path("/programs"),
            headers=w.clinic.owner.headers,
            json=clinic_program_body("Own plan"),
        )
    )
    assert own_program_name(w) == "Own plan"


def with_clinic_program(w: World) -> str:
    created = w.client.post(
        w.clinic.path("/programs"),
        headers=w.clinic.owner.headers,
        json=clinic_program_body("Own plan"),
    )
    ok(created)
    assert own_program_name(w) == "Own plan"
    etag: str = created.headers["etag"]
    return etag


def update_clinic_program(w: World) -> None:
    etag = with_clinic_program(w)
    ok(
        w.client.put(
            w.clinic.path("/programs/own-plan"),
            headers=w.clinic.owner.headers | {"If-Match": etag},
            json=clinic_program_body("Own plan, revised"),
        )
    )
    assert own_program_name(w) == "Own plan, revised"


def delete_clinic_program(w: World) -> None:
    with_clinic_program(w)
    ok(w.client.delete(w.clinic.path("/programs/own-plan"), headers=w.clinic.owner.headers))
    assert own_program_name(w) == 404


def revoke_api_client(w: World) -> None:
    client_id, headers = create_api_client(w.client, w.clinic, ["patients:read"])
    for _ in range(2):
        assert w.client.get(w.clinic.path("/patients"), headers=headers).status_code == 200
    ok(w.client.delete(w.clinic.path(f"/api-clients/{client_id}"), headers=w.clinic.owner.headers))
    assert w.client.get(w.clinic.path("/patients"), headers=headers).status_code == 401


# ---------------------------------------------------------------------------
# Content: the snapshot and the whole-response cache, anonymous and signed in


def exercise_name(w: World, slug: str = "alpha-move") -> int | str:
    names = set()
    for person in (None, w.member):
        for _ in range(2):
            response = w.get(f"/v1/exercises/{slug}", person)
            names.add(response.json()["name"] if response.status_code == 200 else 404)
    assert len(names) == 1, names
    name: int | str = names.pop()
    return name


def admin_create(kind: str) -> Callable[[World], None]:
    def scenario(w: World) -> None:
        if kind == "exercises":
            assert exercise_name(w, "delta-move") == 404
            ok(w.editor.create("exercises", exercise("delta-move", name="Delta")))
            assert exercise_name(w, "delta-move") == "Delta"
        elif kind == "conditions":
            assert w.get("/v1/conditions/fresh-knee").status_code == 404
            ok(w.editor.create("conditions", condition("fresh-knee")))
            assert w.get("/v1/conditions/fresh-knee").status_code == 200
        else:
            assert w.get("/v1/programs/second-plan").status_code == 404
            ok(w.editor.create("programs", program("second-plan", ["fresh-hip"], [["gamma-move"]])))
            assert w.get("/v1/programs/second-plan").status_code == 200

    return scenario


def admin_update(kind: str) -> Callable[[World], None]:
    def scenario(w: World) -> None:
        if kind == "exercises":
            assert exercise_name(w) == "Alpha Move"
            ok(w.editor.edit("/exercises/alpha-move", name="Alpha, renamed"))
            assert exercise_name(w) == "Alpha, renamed"
        elif kind == "conditions":
            assert w.json("/v1/conditions/fresh-hip")["name"] == "Fresh Hip"
            ok(w.editor.edit("/conditions/fresh-hip", name="Hip, renamed"))
            assert w.json("/v1/conditions/fresh-hip")["name"] == "Hip, renamed"
        else:
            assert w.json(f"/v1/programs/{PROGRAM}")["name"] == "Fresh Plan"
            ok(w.editor.edit(f"/programs/{PROGRAM}", name="Plan, renamed"))
            assert w.json(f"/v1/programs/{PROGRAM}")["name"] == "Plan, renamed"

    return scenario


def admin_delete(kind: str) -> Callable[[World], None]:
    def scenario(w: World) -> None:
        if kind == "exercises":
            assert exercise_name(w, "gamma-move") == "Gamma Move"
            ok(w.editor.remove("/exercises/gamma-move"))
            assert exercise_name(w, "gamma-move") == 404
        elif kind == "conditions":
            ok(w.editor.create("conditions", condition("fresh-knee")))
            assert w.get("/v1/conditions/fresh-knee").status_code == 200
            ok(w.editor.remove("/conditions/fresh-knee"))
            assert w.get("/v1/conditions/fresh-knee").status_code == 404
        else:
            ok(w.editor.create("programs", program("second-plan", ["fresh-hip"], [["gamma-move"]])))
            assert w.get("/v1/programs/second-plan").status_code == 200
            ok(w.editor.remove("/programs/second-plan"))
            assert w.get("/v1/programs/second-plan").status_code == 404

    return scenario


def stage_count(w: World) -> int:
    return len(w.json(f"/v1/programs/{PROGRAM}")["stages"])


def append_stage(w: World) -> None:
    assert stage_count(w) == 2
    _, etag = w.editor.read(f"/programs/{PROGRAM}")
    stage = {
        "name": "Third",
        "guidance": "Later.",
        "exercises": [{"exercise": "gamma-move", "sets": 1, "reps": 5}],
    }
    ok(
        w.client.post(
            f"/v1/admin/programs/{PROGRAM}/stages",
            headers=w.admin.headers | {"If-Match": etag},
            json=stage,
        )
    )
    assert stage_count(w) == 3


def update_stage(w: World) -> None:
    assert w.json(f"/v1/programs/{PROGRAM}")["stages"][0]["name"] == "Stage 1"
    ok(w.editor.edit(f"/programs/{PROGRAM}/stages/1", name="Warm-up"))
    assert w.json(f"/v1/programs/{PROGRAM}")["stages"][0]["name"] == "Warm-up"


def delete_stage(w: World) -> None:
    append_stage(w)
    ok(w.editor.remove(f"/programs/{PROGRAM}/stages/3"))
    assert stage_count(w) == 2


def upload(what: str) -> Callable[[World], None]:
    def scenario(w: World) -> None:
        def shown() -> Any:
            return w.json("/v1/exercises/alpha-move", w.clinic.owner)[
                "thumbnail_url" if what == "thumbnail" else "video"
            ]

        before = shown()
        _, etag = w.editor.read("/exercises/alpha-move")
        data, name = (PNG, "t.png") if what == "thumbnail" else (MP4, "v.mp4")
        ok(
            w.client.put(
                f"/v1/admin/exercises/alpha-move/{what}",
                headers=w.admin.headers | {"If-Match": etag},
                files={"file": (name, data, "application/octet-stream")},
            )
        )
        after = shown()
        assert str(after) != str(before)
        assert "alpha-move" not in str(after)  # now the uploaded, content-addressed key

    return scenario


# ---------------------------------------------------------------------------
# Outcomes: what is due, on the home screen's cache


def due_today(w: World, person: Person) -> list[tuple[str, int]]:
    for _ in range(2):
        screen = w.json("/v1/me/today", person)
    return [
        (due["instrument"], due["version"])
        for program in screen["programs"]
        for due in program["questionnaires_due"]
    ]


def seed_instruments(w: World) -> None:
    with w.database.write_session() as session:
        apply_seed(session, read_seed(PROJECT_ROOT / "seed" / "instruments"), now=utcnow())


def schedule_pain(w: World) -> int:
    response = w.client.post(
        f"/v1/clinics/{w.clinic.id}/patients/{w.patient.id}/questionnaires",
        headers=w.clinic.owner.headers,
        json={"instrument": "pain-rating", "program": PROGRAM, "kind": "at_enrollment"},
    )
    ok(response)
    schedule_id: int = response.json()["id"]
    return schedule_id


def schedule_questionnaire(w: World) -> None:
    seed_instruments(w)
    assert due_today(w, w.patient) == []
    schedule_pain(w)
    assert due_today(w, w.patient) == [("pain-rating", 1)]


def put_response(w: World) -> None:
    seed_instruments(w)
    schedule_id = schedule_pain(w)
    assert due_today(w, w.patient) == [("pain-rating", 1)]
    body = {
        "schedule": schedule_id,
        "answered_at": utcnow().isoformat(),
        "answers": [{"item": "worst", "value": 3}, {"item": "average", "value": 2}],
    }
    ok(w.client.put(f"/v1/me/responses/{uuid.uuid4()}", headers=w.patient.headers, json=body))
    assert due_today(w, w.patient) == []


def publish_instrument(w: World) -> None:
    seed_instruments(w)
    schedule_pain(w)
    assert due_today(w, w.patient) == [("pain-rating", 1)]
    definition = read_seed(PROJECT_ROOT / "seed" / "instruments")["pain-rating"]
    body = definition.model_dump(mode="json", exclude_none=True)
    ok(
        w.client.post(
            "/v1/admin/instruments/pain-rating/versions", headers=w.admin.headers, json=body
        )
    )
    ok(
        w.client.post(
            "/v1/admin/instruments/pain-rating/versions/2/publish", headers=w.admin.headers
        )
    )
    assert due_today(w, w.patient) == [("pain-rating", 2)]


SCENARIOS: dict[tuple[str, str], Callable[[World], None]] = {
    ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}/questionnaires"): (
        schedule_questionnaire
    ),
    ("PUT", "/v1/me/responses/{response_id}"): put_response,
    ("POST", "/v1/admin/instruments/{slug}/versions/{version}/publish"): publish_instrument,
    ("POST", "/v1/me/enrollments"): enroll,
    ("DELETE", "/v1/me/enrollments/{program}"): leave,
    ("POST", "/v1/me/enrollments/{program}/advance"): advance,
    ("PUT", "/v1/me/sessions/{session_id}"): put_session,
    ("POST", "/v1/me/sessions/sync"): sync_sessions,
    ("DELETE", "/v1/me/sessions/{session_id}"): delete_session,
    ("PATCH", "/v1/me"): update_me,
    ("POST", "/v1/me/password"): change_password,
    ("POST", "/v1/auth/logout"): logout,
    ("POST", "/v1/auth/token"): reuse_refresh_token,
    ("POST", "/v1/auth/verify-email"): verify_email,
    ("POST", "/v1/auth/password-reset/confirm"): confirm_password_reset,
    ("DELETE", "/v1/me/sign-ins/{sign_in_id}"): end_sign_in,
    ("DELETE", "/v1/me"): delete_account,
    ("PATCH", "/v1/admin/users/{user_id}"): disable_account,
    ("DELETE", "/v1/admin/users/{user_id}/sign-ins"): end_sign_ins_by_operator,
    ("POST", "/v1/me/mfa/totp/confirm"): confirm_second_factor,
    ("DELETE", "/v1/me/mfa"): turn_off_second_factor,
    ("POST", "/v1/me/staff-invitations"): accept_staff_invitation,
    ("DELETE", "/v1/clinics/{clinic_id}/members/{user_id}"): remove_member,
    ("POST", "/v1/clinics/{clinic_id}/patients/{patient_id}/enrollments"): assign_program,
    (
        "PUT",
        "/v1/clinics/{clinic_id}/patients/{patient_id}/enrollments/{program}/stage",
    ): set_patient_stage,
    ("POST", "/v1/clinics/{clinic_id}/programs"): create_clinic_program,
    ("PUT", "/v1/clinics/{clinic_id}/programs/{program_slug}"): update_clinic_program,
    ("DELETE", "/v1/clinics/{clinic_id}/programs/{program_slug}"): delete_clinic_program,
    ("DELETE", "/v1/clinics/{clinic_id}/api-clients/{api_client_id}"): revoke_api_client,
    **{
        ("POST", f"/v1/admin/{kind}"): admin_create(kind)
        for kind in ("conditions", "exercises", "programs")
    },
    **{
        ("PUT", f"/v1/admin/{kind}/{{slug}}"): admin_update(kind)
        for kind in ("conditions", "exercises", "programs")
    },
    **{
        ("DELETE", f"/v1/admin/{kind}/{{slug}}"): admin_delete(kind)
        for kind in ("conditions", "exercises", "programs")
    },
    ("POST", "/v1/admin/programs/{slug}/stages"): append_stage,
    ("PUT", "/v1/admin/programs/{slug}/stages/{position}"): update_stage,
    ("DELETE", "/v1/admin/programs/{slug}/stages/{position}"): delete_stage,
    ("PUT", "/v1/admin/exercises/{slug}/video"): upload("video"),
    ("PUT", "/v1/admin/exercises/{slug}/thumbnail"): upload("thumbnail"),
}

# Writes that change nothing a cached read shows, and why.
NOTHING_CACHED: dict[tuple[str, str], str] = {
    ("POST", "/v1/auth/register"): "a new account: nothing was cached about it",
    ("POST", "/v1/auth/verify-email/resend"): "a mail: the account is as it was",
    ("POST", "/v1/auth/password-reset"): "a mail: the account is as it was until confirmed",
    ("POST", "/v1/me/email"): "a mail: the address changes once the new one is confirmed",
    ("POST", "/v1/clinics"): "clinic reads are never cached",
    ("POST", "/v1/clinics/{clinic_id}/invitations"): "clinic reads are never cached",
    ("POST", "/v1/clinics/{clinic_id}/staff-invitations"): "a mail: nobody joins until accepted",
    ("POST", "/v1/clinics/{clinic_id}/api-clients"): "a new client: nothing was cached about it",
    ("POST", "/v1/clinics/{clinic_id}/webhooks"): "clinic reads are never cached",
    ("DELETE", "/v1/clinics/{clinic_id}/webhooks/{webhook_id}"): "clinic reads are never cached",
    (
        "POST",
        "/v1/clinics/{clinic_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    ): "clinic reads are never cached",
    ("PATCH", "/v1/clinics/{clinic_id}/webhooks/{webhook_id}"): "clinic reads are never cached",
    (
        "POST",
        "/v1/clinics/{clinic_id}/webhooks/{webhook_id}/rotate-secret",
    ): "clinic reads are never cached",
    ("POST", "/v1/clinics/{clinic_id}/webhooks/{webhook_id}/ping"): "a delivery: nothing changes",
    (
        "POST",
        "/v1/clinics/{clinic_id}/api-clients/{api_client_id}/rotate-secret",
    ): "a new secret: checked at the token endpoint, where nothing is cached",
    ("POST", "/v1/me/mfa/totp"): "a key not in force until confirmed",
    ("POST", "/v1/me/mfa/recovery-codes"): "codes are checked at sign-in, never cached",
    ("POST", "/v1/me/clinic-links"): "consent decides clinic reads, which are never cached",
    ("DELETE", "/v1/me/clinic-links/{clinic_id}"): "clinic reads are never cached",
    (
        "DELETE",
        "/v1/clinics/{clinic_id}/fhir/R4/$export-status/{job_id}",
    ): "an export's own files: nothing cached depends on them",
    ("POST", "/v1/admin/instruments"): "instruments are read fresh wherever they are used",
    ("POST", "/v1/me/reminders"): "reminders are read fresh by the sweep and the list",
    ("DELETE", "/v1/me/reminders/{reminder_id}"): "reminders are never cached",
    ("PUT", "/v1/clinics/{clinic_id}/adherence-alert"): "clinic reads are never cached",
    ("POST", "/v1/admin/instruments/{slug}/versions"): "instruments are never cached",
    ("PUT", "/v1/admin/instruments/{slug}/versions/{version}"): "instruments are never cached",
}


def write_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path as the OpenAPI document writes it: no path convertors)."""
    return {
        (method, re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path or ""))
        for route in iter_route_contexts(app.routes)
        for method in route.methods or ()
        if method in WRITES
    }


def test_every_write_route_says_how_its_effect_is_read(client: TestClient) -> None:
    routes = write_routes(client.app)
    assert routes == set(SCENARIOS) | set(NOTHING_CACHED), (
        f"unclassified: {sorted(routes - set(SCENARIOS) - set(NOTHING_CACHED))}; "
        f"gone: {sorted((set(SCENARIOS) | set(NOTHING_CACHED)) - routes)}"
    )


@pytest.mark.parametrize("route", sorted(SCENARIOS), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_next_read_after_a_write_is_fresh(world: World, route: tuple[str, str]) -> None:
    SCENARIOS[route](world)
