"""What a GET returns, the PUT on the same URL accepts, and writing it back changes nothing.

Every path with both a GET and a PUT is listed here (the last test enumerates them
from the app), so a new one cannot be added without its round trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.deps import DATABASE
from app.main import create_app
from tests.clinics.test_clinic_programs import build
from tests.conftest import ClinicSetup, Person
from tests.outcomes.test_instruments import create
from tests.progress.conftest import enroll, log, session_body, stage_slugs

pytestmark = pytest.mark.usefixtures("seeded")

PROGRAM = "whole-leg-rehabilitation"
Headers = dict[str, str]


def round_trip(client: TestClient, path: str, headers: Headers) -> tuple[Any, Any]:
    """GET `path`, PUT the body back as it came (with its ETag), GET again."""
    read = client.get(path, headers=headers)
    assert read.status_code == 200, read.text
    condition = {"If-Match": read.headers["etag"]} if "etag" in read.headers else {}
    written = client.put(path, headers={**headers, **condition}, json=read.json())
    assert written.status_code == 200, written.text
    again = client.get(path, headers=headers)
    return read.json(), again.json()


def _session(client: TestClient, member: Person, admin: Person, clinic: ClinicSetup) -> Any:
    enroll(client, member, PROGRAM)
    session_id = str(uuid.uuid4())
    body = session_body(PROGRAM, 1, stage_slugs(client, PROGRAM, 1)[:2])
    assert log(client, member, body, session_id).status_code == 201
    return f"/v1/me/sessions/{session_id}", member.headers


def _clinic_program(client: TestClient, member: Person, admin: Person, clinic: ClinicSetup) -> Any:
    build(client, clinic)
    return clinic.path("/programs/knee-plan"), clinic.owner.headers


def _admin(path: str) -> Callable[..., Any]:
    def setup(client: TestClient, member: Person, admin: Person, clinic: ClinicSetup) -> Any:
        return f"/v1/admin{path}", admin.headers

    return setup


def _adherence_alert(client: TestClient, member: Person, admin: Person, clinic: ClinicSetup) -> Any:
    path = clinic.path("/adherence-alert")
    set_once = client.put(path, headers=clinic.owner.headers, json={"threshold": 60})
    assert set_once.status_code == 200, set_once.text
    return path, clinic.owner.headers


def _instrument(client: TestClient, member: Person, admin: Person, clinic: ClinicSetup) -> Any:
    made = create(client, admin)  # version 1, a draft
    return f"/v1/admin/instruments/{made['slug']}/versions/{made['version']}", admin.headers


ROUND_TRIPS: dict[str, Callable[..., Any]] = {
    "/v1/clinics/{clinic_id}/adherence-alert": _adherence_alert,
    "/v1/admin/instruments/{slug}/versions/{version}": _instrument,
    "/v1/me/sessions/{session_id}": _session,
    "/v1/clinics/{clinic_id}/programs/{program_slug}": _clinic_program,
    "/v1/admin/conditions/{slug}": _admin("/conditions/tight-hip"),
    "/v1/admin/exercises/{slug}": _admin("/exercises/glute-bridge"),
    "/v1/admin/programs/{slug}": _admin(f"/programs/{PROGRAM}"),
    "/v1/admin/programs/{slug}/stages/{position}": _admin(f"/programs/{PROGRAM}/stages/2"),
}

# Members the server sets: a write back leaves them as they are, or moves them forward.
SERVER_SET = {"updated_at"}


@pytest.mark.parametrize("template", sorted(ROUND_TRIPS))
def test_a_get_body_put_back_as_it_is_is_accepted_and_changes_nothing(
    client: TestClient,
    member: Person,
    admin: Person,
    clinic: ClinicSetup,
    template: str,
) -> None:
    path, headers = ROUND_TRIPS[template](client, member, admin, clinic)

    before, after = round_trip(client, path, headers)

    assert {k: v for k, v in after.items() if k not in SERVER_SET} == {
        k: v for k, v in before.items() if k not in SERVER_SET
    }


def test_a_read_only_member_sent_back_changed_is_ignored(
    client: TestClient, clinic: ClinicSetup
) -> None:
    build(client, clinic)
    path = clinic.path("/programs/knee-plan")
    read = client.get(path, headers=clinic.owner.headers)
    body = {**read.json(), "program": "somebody-elses-program", "name": "Renamed plan"}

    written = client.put(
        path, headers={**clinic.owner.headers, "If-Match": read.headers["etag"]}, json=body
    )

    assert written.status_code == 200, written.text
    assert written.json()["program"] == read.json()["program"]
    assert written.json()["name"] == "Renamed plan"


def test_every_path_with_a_get_and_a_put_has_its_round_trip(settings: Settings) -> None:
    app = create_app(settings)
    paths = app.openapi()["paths"]
    DATABASE.of_app(app).dispose()
    both = {path for path, item in paths.items() if "get" in item and "put" in item}
    assert both == set(ROUND_TRIPS)
    for template in both:
        put = paths[template]["put"]["requestBody"]["content"]["application/json"]["schema"]
        assert put  # a JSON body, so the read can be sent back
