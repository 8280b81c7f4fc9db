"""Programs a clinic builds for its own patients: who may see them, following them, editing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.authoring.models import AuditEntry
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from app.outbox.models import Channel, OutboxMessage
from tests.catalog.test_statement_counts import counting_statements
from tests.conftest import (
    ClinicFactory,
    ClinicSetup,
    LinkedPatientFactory,
    Person,
    PersonFactory,
    add_staff,
    api_client_token,
    link,
)
from tests.progress.conftest import log, session_body

pytestmark = pytest.mark.usefixtures("seeded")

STAGE_ONE = ["figure-four-stretch", "butterfly-adductor-stretch"]
STAGE_TWO = ["hamstring-strap-stretch"]
NAME = "Quokka knee plan"  # a word no public content uses, to search for


def stage(position: int, exercises: list[str], *, min_sessions: int = 2) -> dict[str, Any]:
    return {
        "position": position,
        "name": f"Stage {position}",
        "guidance": f"Guidance for stage {position}.",
        "rule": {"min_days": 0, "min_sessions": min_sessions},
        "exercises": [{"exercise": slug, "sets": 2, "hold_seconds": 30} for slug in exercises],
    }


def program_body(*stages: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "slug": "knee-plan",
        "name": NAME,
        "description": "Two stages for one patient.",
        "status": "published",
        "stages": list(stages) or [stage(1, STAGE_ONE), stage(2, STAGE_TWO)],
    }
    return {**body, **overrides}


def build(
    client: TestClient, clinic: ClinicSetup, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = client.post(
        clinic.path("/programs"), headers=clinic.owner.headers, json=body or program_body()
    )
    assert response.status_code == 201, response.text
    built: dict[str, Any] = response.json()
    return built


def assign(client: TestClient, clinic: ClinicSetup, patient: Person, program: str) -> Any:
    return client.post(
        clinic.path(f"/patients/{patient.id}/enrollments"),
        headers=clinic.owner.headers,
        json={"program": program},
    )


def read(client: TestClient, clinic: ClinicSetup, slug: str = "knee-plan") -> Any:
    return client.get(clinic.path(f"/programs/{slug}"), headers=clinic.owner.headers)


def put(client: TestClient, clinic: ClinicSetup, body: dict[str, Any], etag: str | None) -> Any:
    headers = {**clinic.owner.headers, **({"If-Match": etag} if etag else {})}
    return client.put(clinic.path("/programs/knee-plan"), headers=headers, json=body)


def locks(detail: dict[str, Any]) -> list[list[str]]:
    return [[item["exercise"]["access"] for item in s["exercises"]] for s in detail["stages"]]


def advance_to_stage_two(client: TestClient, patient: Person, program: str) -> None:
    for _ in range(2):
        logged = log(client, patient, session_body(program, 1, STAGE_ONE))
        assert logged.status_code == 201, logged.text
    advanced = client.post(f"/v1/me/enrollments/{program}/advance", headers=patient.headers)
    assert advanced.status_code == 200, advanced.text


# ---------------------------------------------------------------------------
# The whole flow


def test_a_clinician_builds_a_two_stage_program_the_patient_follows_it_and_advances(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    make_person: PersonFactory,
) -> None:
    clinician = make_person()
    add_staff(client, clinic.id, clinic.owner.headers, clinician)
    patient = make_linked_patient(clinic)

    built = client.post(clinic.path("/programs"), headers=clinician.headers, json=program_body())
    assert built.status_code == 201, built.text
    program = built.json()["program"]
    assert program == f"clinic-{clinic.id}-knee-plan"
    assert built.headers["Location"] == clinic.path("/programs/knee-plan")

    assigned = assign(client, clinic, patient, "knee-plan")
    assert assigned.status_code == 201, assigned.text
    mine = client.get("/v1/me/enrollments", headers=patient.headers).json()
    assert [e["program"] for e in mine["items"]] == [program]

    detail = client.get(f"/v1/programs/{program}", headers=patient.headers)
    assert detail.status_code == 200, detail.text
    assert locks(detail.json()) == [["unlocked", "unlocked"], ["locked"]]
    lock = detail.json()["stages"][1]["exercises"][0]["exercise"]["lock"]
    assert lock["reason"] == "stage_locked"
    assert lock["unlock_hint"].startswith("To reach stage 2:")
    assert "2 more session" in lock["unlock_hint"]

    refused = client.post(f"/v1/me/enrollments/{program}/advance", headers=patient.headers)
    assert refused.status_code == 409
    advance_to_stage_two(client, patient, program)

    followed = client.get(f"/v1/me/enrollments/{program}", headers=patient.headers).json()
    assert followed["current_stage"]["position"] == 2
    detail = client.get(f"/v1/programs/{program}", headers=patient.headers)
    assert locks(detail.json()) == [["unlocked", "unlocked"], ["unlocked"]]
    # The clinic sees the patient on its own program.
    summary = client.get(clinic.path(f"/patients/{patient.id}"), headers=clinician.headers).json()
    assert [(p["program"], p["stage"]) for p in summary["programs"]] == [(program, 2)]


def test_a_clinic_program_can_be_assigned_by_its_full_slug_and_a_draft_cannot_be(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> None:
    patient = make_linked_patient(clinic)
    program = build(client, clinic)["program"]
    build(client, clinic, program_body(slug="later", status="draft"))
    assert assign(client, clinic, patient, program).status_code == 201
    assert assign(client, clinic, patient, "later").status_code == 404


# ---------------------------------------------------------------------------
# Who may see it


@pytest.fixture
def outsiders(
    client: TestClient,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
    member: Person,
) -> dict[str, dict[str, str] | None]:
    other = make_clinic("Other Clinic")
    return {
        "anonymous": None,
        "member": member.headers,
        "other_clinic_owner": other.owner.headers,
        "other_clinics_patient": make_linked_patient(other).headers,
    }


def test_a_clinic_program_is_invisible_to_outsiders_on_every_catalogue_path(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    outsiders: dict[str, dict[str, str] | None],
) -> None:
    unlinked_patient = make_linked_patient(clinic)  # linked, but never assigned it
    program = build(client, clinic)["program"]
    missing = client.get("/v1/programs/no-such-program").json()["detail"]
    everyone = {**outsiders, "linked_but_not_assigned": unlinked_patient.headers}
    for who, headers in everyone.items():
        detail = client.get(f"/v1/programs/{program}", headers=headers)
        assert detail.status_code == 404, who
        assert detail.json()["detail"] == missing.replace("no-such-program", program), who
        for path in ("/v1/programs?limit=100", "/v1/programs?q=quokka", "/v1/conditions"):
            listed = client.get(path, headers=headers)
            assert listed.status_code == 200, who
            assert program not in listed.text, (who, path)
            assert NAME not in listed.text, (who, path)
        enrolled = client.post(
            "/v1/me/enrollments", headers=headers or {}, json={"program": program}
        )
        assert enrolled.status_code in (401, 404), who
    logged = log(client, unlinked_patient, session_body(program, 1, STAGE_ONE))
    assert logged.status_code == 422
    assert logged.json()["errors"][0]["detail"] == f"No program with slug '{program}'."


def test_another_clinic_can_neither_read_nor_assign_a_clinic_program(
    client: TestClient,
    clinic: ClinicSetup,
    make_clinic: ClinicFactory,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    program = build(client, clinic)["program"]
    other = make_clinic("Other Clinic")
    patient = make_linked_patient(other)
    assert read(client, other).status_code == 404
    assert assign(client, other, patient, program).status_code == 404
    listed = client.get(other.path("/programs"), headers=other.owner.headers).json()
    assert listed["items"] == []
    # The same short slug is free in every clinic: nothing collides, nothing is revealed.
    assert build(client, other)["program"] == f"clinic-{other.id}-knee-plan"


def test_a_patient_of_two_clinics_is_shown_to_each_with_only_its_own_programs(
    client: TestClient, clinic: ClinicSetup, make_clinic: ClinicFactory, make_person: PersonFactory
) -> None:
    other = make_clinic("Other Clinic")
    patient = make_person()
    link(client, clinic, patient)
    link(client, other, patient)
    program = build(client, clinic)["program"]
    assert assign(client, clinic, patient, program).status_code == 201
    for path in ("", "/enrollments", "/progress"):
        seen = client.get(other.path(f"/patients/{patient.id}{path}"), headers=other.owner.headers)
        assert seen.status_code == 200
        assert program not in seen.text, path
        assert NAME not in seen.text, path
    own = client.get(
        clinic.path(f"/patients/{patient.id}/enrollments"), headers=clinic.owner.headers
    )
    assert [e["program"] for e in own.json()] == [program]


def test_the_clinics_members_and_admins_see_it_unlocked(
    client: TestClient, clinic: ClinicSetup, admin: Person
) -> None:
    program = build(client, clinic)["program"]
    for headers in (clinic.owner.headers, admin.headers):
        detail = client.get(f"/v1/programs/{program}", headers=headers)
        assert detail.status_code == 200, detail.text
        assert locks(detail.json()) == [["unlocked", "unlocked"], ["unlocked"]]


def only_later_stage_exercise(client: TestClient) -> str:
    """An exercise every public program places above stage 1."""
    stage_of: dict[str, int] = {}
    for summary in client.get("/v1/programs?limit=100").json()["items"]:
        detail = client.get(f"/v1/programs/{summary['slug']}").json()
        for s in detail["stages"]:
            for item in s["exercises"]:
                slug = item["exercise"]["slug"]
                stage_of[slug] = min(stage_of.get(slug, 99), s["position"])
    return next(slug for slug, position in stage_of.items() if position > 1)


def test_the_standalone_exercise_view_counts_only_contexts_the_viewer_can_see(
    client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
    member: Person,
) -> None:
    exercise = only_later_stage_exercise(client)
    before = client.get(f"/v1/exercises/{exercise}", headers=member.headers).json()
    assert before["access"] == "locked"
    patient = make_linked_patient(clinic)
    # The clinic puts it at stage 1 of its own program: open to its patient, nobody else.
    body = program_body(stage(1, [exercise]), stage(2, STAGE_TWO))
    program = build(client, clinic, body)["program"]
    assert assign(client, clinic, patient, program).status_code == 201

    for headers in (member.headers, make_linked_patient(clinic).headers):
        seen = client.get(f"/v1/exercises/{exercise}", headers=headers).json()
        assert seen["access"] == "locked"
        assert seen["lock"] == before["lock"]  # no mention of the clinic's program
        listed = client.get(f"/v1/exercises?q={exercise.replace('-', ' ')}", headers=headers)
        assert NAME not in listed.text
    assert client.get(f"/v1/exercises/{exercise}").json()["lock"]["reason"] == "login_required"
    mine = client.get(f"/v1/exercises/{exercise}", headers=patient.headers).json()
    assert mine["access"] == "unlocked"


# ---------------------------------------------------------------------------
# Writing: who may, If-Match, the edit rule, the audit trail


def test_api_clients_need_the_programs_write_scope(client: TestClient, clinic: ClinicSetup) -> None:
    reader = api_client_token(client, clinic, ["patients:read"])
    refused = client.post(clinic.path("/programs"), headers=reader, json=program_body())
    assert refused.status_code == 403
    writer = api_client_token(client, clinic, ["programs:write"])
    created = client.post(clinic.path("/programs"), headers=writer, json=program_body())
    assert created.status_code == 201, created.text
    # Reading the clinic's programs takes a programs scope too (drafts are the clinic's own).
    assert client.get(clinic.path("/programs/knee-plan"), headers=reader).status_code == 403
    assert client.get(clinic.path("/programs/knee-plan"), headers=writer).status_code == 200
    etag = created.headers["ETag"]
    changed = program_body(name="Renamed by the practice system")
    blocked = client.put(
        clinic.path("/programs/knee-plan"), headers={**reader, "If-Match": etag}, json=changed
    )
    assert blocked.status_code == 403
    assert client.delete(clinic.path("/programs/knee-plan"), headers=reader).status_code == 403


def test_invalid_programs_are_refused_with_the_catalogues_validation(
    client: TestClient, clinic: ClinicSetup
) -> None:
    gaps = program_body(stage(1, STAGE_ONE), stage(3, STAGE_TWO))
    unknown = program_body(stage(1, ["no-such-exercise"]))
    for body in (gaps, unknown, program_body(stages=[]), {**program_body(), "extra": 1}):
        response = client.post(clinic.path("/programs"), headers=clinic.owner.headers, json=body)
        assert response.status_code == 422, response.text
    build(client, clinic)
    again = client.post(clinic.path("/programs"), headers=clinic.owner.headers, json=program_body())
    assert again.status_code == 409


def test_an_update_needs_the_current_etag(client: TestClient, clinic: ClinicSetup) -> None:
    build(client, clinic)
    first = read(client, clinic)
    etag = first.headers["ETag"]
    assert put(client, clinic, program_body(name="No precondition"), None).status_code == 428
    updated = put(client, clinic, program_body(name="First editor"), etag)
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] != etag
    stale = put(client, clinic, program_body(name="Second editor"), etag)
    assert stale.status_code == 412
    assert read(client, clinic).json()["name"] == "First editor"
    assert read(client, clinic).headers["ETag"] == updated.headers["ETag"]
    renamed = put(client, clinic, program_body(slug="other"), updated.headers["ETag"])
    assert renamed.status_code == 422


@pytest.fixture
def followed(
    client: TestClient, clinic: ClinicSetup, make_linked_patient: LinkedPatientFactory
) -> tuple[str, Person]:
    """The clinic's two-stage program, with a patient who reached stage 2."""
    patient = make_linked_patient(clinic)
    program = build(client, clinic)["program"]
    assert assign(client, clinic, patient, program).status_code == 201
    advance_to_stage_two(client, patient, program)
    return program, patient


def test_removing_the_stage_a_patient_is_at_is_refused_naming_them(
    client: TestClient, clinic: ClinicSetup, followed: tuple[str, Person]
) -> None:
    _, patient = followed
    etag = read(client, clinic).headers["ETag"]
    refused = put(client, clinic, program_body(stage(1, STAGE_ONE)), etag)
    assert refused.status_code == 409
    assert refused.json()["enrollments"] == [
        {"patient_id": patient.id, "display_name": patient.email.split("@")[0], "stage": 2}
    ]
    assert patient.email.split("@")[0] in refused.json()["detail"]
    draft = put(client, clinic, program_body(status="draft"), etag)
    assert draft.status_code == 409
    deleted = client.delete(clinic.path("/programs/knee-plan"), headers=clinic.owner.headers)
    assert deleted.status_code == 409
    assert deleted.json()["enrollments"][0]["patient_id"] == patient.id


def test_edits_apply_in_place_and_the_patient_keeps_stage_and_history(
    client: TestClient, clinic: ClinicSetup, followed: tuple[str, Person]
) -> None:
    program, patient = followed
    etag = read(client, clinic).headers["ETag"]
    revised = program_body(
        {**stage(1, STAGE_ONE), "guidance": "Slower now."},
        stage(2, STAGE_TWO, min_sessions=5),
        stage(3, STAGE_ONE),
    )
    updated = put(client, clinic, revised, etag)
    assert updated.status_code == 200, updated.text

    mine = client.get(f"/v1/me/enrollments/{program}", headers=patient.headers).json()
    assert mine["current_stage"]["position"] == 2
    assert [(h["from_stage"], h["to_stage"]) for h in mine["history"]] == [(None, 1), (1, 2)]
    # The next evaluation uses the new rule of stage 2.
    criteria = {c["criterion"]: c["required"] for c in mine["evaluation"]["criteria"]}
    assert criteria["min_sessions"] == 5
    detail = client.get(f"/v1/programs/{program}", headers=patient.headers).json()
    assert detail["stages"][0]["guidance"] == "Slower now."
    assert locks(detail) == [["unlocked", "unlocked"], ["unlocked"], ["locked", "locked"]]


def test_a_program_nobody_follows_is_deleted(client: TestClient, clinic: ClinicSetup) -> None:
    program = build(client, clinic)["program"]
    etag = read(client, clinic).headers["ETag"]
    stale = client.delete(
        clinic.path("/programs/knee-plan"), headers={**clinic.owner.headers, "If-Match": '"x"'}
    )
    assert stale.status_code == 412
    deleted = client.delete(
        clinic.path("/programs/knee-plan"), headers={**clinic.owner.headers, "If-Match": etag}
    )
    assert deleted.status_code == 204
    assert read(client, clinic).status_code == 404
    assert client.get(f"/v1/programs/{program}", headers=clinic.owner.headers).status_code == 404


def test_an_empty_if_match_on_delete_is_the_same_as_none(
    client: TestClient, clinic: ClinicSetup
) -> None:
    """If-Match is optional on DELETE: an empty one is no precondition, not the 428 of a
    required header this operation does not require (nor document)."""
    build(client, clinic)

    deleted = client.delete(
        clinic.path("/programs/knee-plan"), headers={**clinic.owner.headers, "If-Match": ""}
    )

    assert deleted.status_code == 204, deleted.text
    assert read(client, clinic).status_code == 404


def test_a_program_with_logged_history_is_kept(
    client: TestClient, clinic: ClinicSetup, followed: tuple[str, Person]
) -> None:
    program, patient = followed
    left = client.delete(f"/v1/me/enrollments/{program}", headers=patient.headers)
    assert left.status_code == 204
    refused = client.delete(clinic.path("/programs/knee-plan"), headers=clinic.owner.headers)
    assert refused.status_code == 409
    assert "draft" in refused.json()["detail"]


def test_every_write_is_in_the_audit_trail(
    client: TestClient, clinic: ClinicSetup, database: Database
) -> None:
    build(client, clinic)
    etag = read(client, clinic).headers["ETag"]
    assert put(client, clinic, program_body(name="Renamed"), etag).status_code == 200
    writer = api_client_token(client, clinic, ["programs:write"])
    assert client.delete(clinic.path("/programs/knee-plan"), headers=writer).status_code == 204
    with database.read_session() as session:
        entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [(e.action, e.kind, e.slug, e.clinic_id) for e in entries] == [
        (action, "program", f"clinic-{clinic.id}-knee-plan", clinic.id)
        for action in ("create", "update", "delete")
    ]
    create, update, delete = entries
    assert create.before is None
    assert create.after is not None
    assert create.actor_email == clinic.owner.email
    assert update.before is not None
    assert update.after is not None
    assert (update.before["name"], update.after["name"]) == (NAME, "Renamed")
    assert delete.after is None
    assert delete.actor_email.startswith("api-client:")


# ---------------------------------------------------------------------------
# Caches: an edit is seen at once; no extra statements on the hot paths


@pytest.fixture
def polling_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    """A process that checks the content version only once a minute."""
    app = create_app(settings.model_copy(update={"content_poll_seconds": 60}), database=database)
    with TestClient(app) as test_client:
        yield test_client


def test_an_edit_is_visible_to_the_next_request_despite_the_poll_interval(
    polling_client: TestClient,
    clinic: ClinicSetup,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    client = polling_client
    patient = make_linked_patient(clinic)
    program = build(client, clinic)["program"]
    assert assign(client, clinic, patient, program).status_code == 201
    assert client.get(f"/v1/programs/{program}", headers=patient.headers).json()["name"] == NAME
    etag = read(client, clinic).headers["ETag"]
    assert put(client, clinic, program_body(name="Edited"), etag).status_code == 200
    assert client.get(f"/v1/programs/{program}", headers=patient.headers).json()["name"] == "Edited"


def test_reads_of_public_programs_cost_no_extra_statement_for_members(
    client: TestClient, database: Database, clinic: ClinicSetup, member: Person
) -> None:
    build(client, clinic)
    client.get("/v1/programs/tight-hip-stretches", headers=member.headers)
    with counting_statements(database) as statements:
        response = client.get("/v1/programs/tight-hip-stretches", headers=member.headers)
    assert response.status_code == 200
    assert not [s for s in statements if "clinic_member" in s]


def test_a_clinicians_viewer_adds_one_statement_for_their_clinics(
    client: TestClient, database: Database, clinic: ClinicSetup
) -> None:
    program = build(client, clinic)["program"]
    client.get(f"/v1/programs/{program}", headers=clinic.owner.headers)
    with counting_statements(database) as statements:
        response = client.get(f"/v1/programs/{program}", headers=clinic.owner.headers)
    assert response.status_code == 200
    assert len([s for s in statements if "clinic_member" in s]) == 1


@pytest.fixture
def caching_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    """A process that keeps each token's viewer for half a minute."""
    app = create_app(settings.model_copy(update={"viewer_cache_seconds": 30}), database=database)
    with TestClient(app) as test_client:
        yield test_client


def test_a_clinician_removed_from_the_clinic_stops_seeing_its_programs_at_once(
    caching_client: TestClient, clinic: ClinicSetup, make_person: PersonFactory
) -> None:
    client = caching_client
    clinician = make_person()
    add_staff(client, clinic.id, clinic.owner.headers, clinician)
    program = build(client, clinic)["program"]
    assert client.get(f"/v1/programs/{program}", headers=clinician.headers).status_code == 200
    removed = client.delete(clinic.path(f"/members/{clinician.id}"), headers=clinic.owner.headers)
    assert removed.status_code == 204
    assert client.get(f"/v1/programs/{program}", headers=clinician.headers).status_code == 404


def subscribe(client: TestClient, clinic: ClinicSetup) -> None:
    hook = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={
            "url": "https://93.184.216.34/hook",  # a public literal address: no DNS lookup
            "event_types": ["session.logged", "stage.advanced"],
        },
    )
    assert hook.status_code == 201, hook.text


def test_events_about_a_clinic_program_go_to_that_clinic_only(
    client: TestClient,
    clinic: ClinicSetup,
    make_clinic: ClinicFactory,
    make_person: PersonFactory,
    database: Database,
) -> None:
    other = make_clinic("Other Clinic")
    patient = make_person()
    for each in (clinic, other):
        link(client, each, patient)
        subscribe(client, each)
    program = build(client, clinic)["program"]
    assert assign(client, clinic, patient, program).status_code == 201
    advance_to_stage_two(client, patient, program)
    public = client.post(
        "/v1/me/enrollments", headers=patient.headers, json={"program": "tight-hip-stretches"}
    )
    assert public.status_code == 201
    logged = log(client, patient, session_body("tight-hip-stretches", 1, ["figure-four-stretch"]))
    assert logged.status_code == 201, logged.text

    with database.read_session() as session:
        rows = session.exec(
            select(OutboxMessage.payload).where(OutboxMessage.channel == Channel.WEBHOOK)
        ).all()
    sent: dict[int, list[tuple[str, str]]] = {clinic.id: [], other.id: []}
    for payload in rows:
        sent[payload["clinic_id"]].append((payload["type"], payload["data"].get("program", "")))
    assert sorted(sent[clinic.id]) == sorted(
        [
            ("session.logged", program),
            ("session.logged", program),
            ("stage.advanced", program),
            ("session.logged", "tight-hip-stretches"),
        ]
    )
    # The patient's other clinic hears of the public program only.
    assert sent[other.id] == [("session.logged", "tight-hip-stretches")]


def statements_of_list(client: TestClient, database: Database, clinic: ClinicSetup) -> int:
    with counting_statements(database) as statements:
        listed = client.get(clinic.path("/programs?limit=100"), headers=clinic.owner.headers)
    assert listed.status_code == 200
    return len(statements)


def test_the_program_list_costs_the_same_statements_for_any_number_of_programs(
    client: TestClient, database: Database, clinic: ClinicSetup
) -> None:
    build(client, clinic, program_body(slug="plan-0"))
    few = statements_of_list(client, database, clinic)
    for number in range(1, 6):
        build(client, clinic, program_body(slug=f"plan-{number}"))
    many = statements_of_list(client, database, clinic)
    assert few == many
    listed = client.get(clinic.path("/programs?limit=100"), headers=clinic.owner.headers).json()
    assert listed["total"] == 6
    assert {item["stage_count"] for item in listed["items"]} == {2}


def test_a_clinic_program_read_by_its_clinician_stays_hidden_from_an_outsider(
    client: TestClient,
    remembering_client: TestClient,
    make_clinic: ClinicFactory,
    member: Person,
) -> None:
    clinic = make_clinic()
    path = f"/v1/programs/{build(client, clinic)['program']}"
    for _ in range(2):
        assert remembering_client.get(path, headers=clinic.owner.headers).status_code == 200

    outsider = remembering_client.get(path, headers=member.headers)

    assert outsider.status_code == 404
    assert remembering_client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (["patients:read"], 403),
        (["programs:read"], 200),
        (["programs:write"], 200),  # writing the clinic's programs implies reading them
    ],
)
def test_reading_the_clinics_programs_needs_a_programs_scope(
    client: TestClient, clinic: ClinicSetup, scopes: list[str], status: int
) -> None:
    headers = api_client_token(client, clinic, scopes)
    assert client.get(clinic.path("/programs"), headers=headers).status_code == status
    one = client.get(clinic.path("/programs/no-such-plan"), headers=headers)
    assert one.status_code == (404 if status == 200 else 403)
