"""Isolation between clinics: every route under `/v1/clinics/{clinic_id}/` answers 404 to
anyone who is not the clinic's own member, admin or API client (401 to the anonymous),
object by object and function by function."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.core.models import utcnow
from app.outcomes.instruments import apply_seed, read_seed
from tests.conftest import (
    ClinicFactory,
    ClinicSetup,
    Person,
    PersonFactory,
    add_staff,
    create_api_client,
    link,
)

pytestmark = pytest.mark.usefixtures("seeded")

ALL_SCOPES = ["patients:read", "programs:read", "programs:write", "webhooks:manage"]
PUBLIC_HOOK = "https://93.184.216.34/hook"  # a public literal address: no DNS, no SSRF refusal
ENROLLED = "whole-leg-rehabilitation"
ASSIGNABLE = "tight-hip-stretches"
CLINIC_PREFIX = "/v1/clinics/{clinic_id}"
CLINIC_PROGRAM = "home-plan"
QUESTIONNAIRE = {"instrument": "pain-rating", "program": ENROLLED, "kind": "at_enrollment"}


def program_body(name: str, slug: str | None = None) -> dict[str, Any]:
    """A valid clinic program: one stage of two catalogue exercises."""
    stage = {
        "position": 1,
        "name": "Start",
        "guidance": "Once a day.",
        "exercises": [
            {"exercise": "figure-four-stretch", "sets": 2, "hold_seconds": 30},
            {"exercise": "butterfly-adductor-stretch", "sets": 2, "hold_seconds": 30},
        ],
    }
    body = {"name": name, "description": "Built for one patient.", "stages": [stage]}
    return body if slug is None else {**body, "slug": slug}


PARAM = re.compile(r"{(\w+)(?::path)?}")
CATCH_ALL = "{rest:path}"


@dataclass
class Side:
    """One clinic with everything a route can be asked about."""

    clinic: ClinicSetup
    name: str
    clinician: Person  # a member of the clinic who is not an owner
    patient: Person  # linked, enrolled in ENROLLED
    spare: Person  # an account that is no member yet (for add_member)
    api_client_id: int
    client_headers: dict[str, str]  # a token of the clinic's API client, all scopes
    webhook_id: int
    webhook_url: str
    delivery_id: int
    program_name: str  # of the clinic's own program CLINIC_PROGRAM
    export_job: str  # a FHIR bulk export of the clinic's patients

    def params(self) -> dict[str, str]:
        return {
            "resource_type": "Patient",
            "resource_id": str(self.patient.id),
            "job_id": self.export_job,
            "rest": "Nothing/here",  # the FHIR base's catch-all: a 404 even for its own
            "clinic_id": str(self.clinic.id),
            "patient_id": str(self.patient.id),
            "user_id": str(self.clinician.id),
            "program": ENROLLED,
            "webhook_id": str(self.webhook_id),
            "delivery_id": str(self.delivery_id),
            "api_client_id": str(self.api_client_id),
            "program_slug": CLINIC_PROGRAM,
        }

    def secrets(self) -> list[str]:
        """Strings that must never appear in an answer to an outsider."""
        return [
            self.name,
            self.patient.email,
            self.clinician.email,
            self.webhook_url,
            self.program_name,
        ]


@dataclass
class World:
    a: Side
    b: Side
    admin: Person
    member: Person  # signed in, in no clinic


def build_side(
    client: TestClient, make_clinic: ClinicFactory, make_person: PersonFactory, name: str
) -> Side:
    clinic = make_clinic(name)
    clinician = make_person()
    add_staff(client, clinic.id, clinic.owner.headers, clinician)
    url = f"{PUBLIC_HOOK}/{name.split()[-1].lower()}"
    hook = client.post(
        clinic.path("/webhooks"),
        headers=clinic.owner.headers,
        json={"url": url, "event_types": ["link.created", "program.assigned"]},
    )
    assert hook.status_code == 201, hook.text
    webhook_id: int = hook.json()["id"]
    patient = make_person()
    link(client, clinic, patient)  # queues a link.created delivery for the webhook
    enrolled = client.post(
        "/v1/me/enrollments", headers=patient.headers, json={"program": ENROLLED}
    )
    assert enrolled.status_code == 201, enrolled.text
    deliveries = client.get(
        clinic.path(f"/webhooks/{webhook_id}/deliveries"), headers=clinic.owner.headers
    )
    assert deliveries.status_code == 200, deliveries.text
    delivery_id: int = deliveries.json()["items"][0]["id"]
    api_client_id, client_headers = create_api_client(client, clinic, ALL_SCOPES)
    program_name = f"Home plan of {name}"
    built = client.post(
        clinic.path("/programs"),
        headers=clinic.owner.headers,
        json=program_body(program_name, CLINIC_PROGRAM),
    )
    assert built.status_code == 201, built.text
    exported = client.get(clinic.path("/fhir/R4/Patient/$export"), headers=clinic.owner.headers)
    assert exported.status_code == 202, exported.text
    return Side(
        clinic=clinic,
        name=name,
        clinician=clinician,
        patient=patient,
        spare=make_person(),
        api_client_id=api_client_id,
        client_headers=client_headers,
        webhook_id=webhook_id,
        webhook_url=url,
        delivery_id=delivery_id,
        program_name=program_name,
        export_job=exported.headers["content-location"].rsplit("/", 1)[1],
    )


@pytest.fixture
def world(
    client: TestClient,
    make_clinic: ClinicFactory,
    make_person: PersonFactory,
    admin: Person,
    database: Database,
) -> World:
    with database.write_session() as session:
        apply_seed(session, read_seed(PROJECT_ROOT / "seed" / "instruments"), now=utcnow())
    a = build_side(client, make_clinic, make_person, "Clinic Alpha")
    b = build_side(client, make_clinic, make_person, "Clinic Bravo")
    return World(a=a, b=b, admin=admin, member=make_person())


@dataclass(frozen=True)
class Call:
    method: str
    template: str
    path: str
    body: dict[str, Any] | None


def clinic_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path template) of every route under /v1/clinics/{clinic_id}, from the app."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        if path.startswith(CLINIC_PREFIX):
            found.extend((method, path) for method in sorted(route.methods or ()))
    return found


def body_for(method: str, template: str, side: Side) -> dict[str, Any] | None:
    """A valid body for the routes that take one, so only access control can refuse."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/staff-invitations"): {"email": side.spare.email, "role": "clinician"},
        ("POST", "/patients/{patient_id}/enrollments"): {"program": ASSIGNABLE},
        ("PUT", "/patients/{patient_id}/enrollments/{program}/stage"): {
            "stage": 2,
            "reason": "Cleared by the physiotherapist.",
        },
        ("POST", "/api-clients"): {"name": "Another system", "scopes": ["patients:read"]},
        ("POST", "/webhooks"): {"url": PUBLIC_HOOK, "event_types": ["session.logged"]},
        ("PATCH", "/webhooks/{webhook_id}"): {"active": True},
        ("POST", "/programs"): program_body("Another plan"),
        ("PUT", "/programs/{program_slug}"): program_body("Home plan, revised"),
        ("POST", "/patients/{patient_id}/questionnaires"): QUESTIONNAIRE,
        ("PUT", "/adherence-alert"): {"threshold": 50},
    }
    return bodies.get((method, template.removeprefix(CLINIC_PREFIX)))


# Destructive calls go last, and a webhook is deleted after its deliveries are used.
ORDER = {"GET": 0, "PUT": 1, "PATCH": 2, "POST": 3, "DELETE": 4}


def calls_against(client: TestClient, side: Side) -> list[Call]:
    params = side.params()
    calls: list[Call] = []
    for method, template in clinic_routes(client):
        names = PARAM.findall(template)
        unknown = [name for name in names if name not in params]
        assert not unknown, f"{method} {template}: no value for {unknown}; extend Side.params"
        calls.append(
            Call(
                method,
                template,
                fill(template, params),
                body_for(method, template, side),
            )
        )
    # A route that was forgotten here would be a route nobody checked.
    assert len(calls) >= 20
    return sorted(calls, key=lambda call: (ORDER[call.method], -len(call.template)))


def fill(template: str, params: dict[str, str]) -> str:
    return PARAM.sub(lambda match: params[match.group(1)], template)


def detail(response: Any) -> str:
    """A refusal's words: a problem document's detail, or an OperationOutcome's diagnostics."""
    body = response.json()
    return str(body.get("detail") or body["issue"][0]["diagnostics"])


# Updates of a clinic's program need a precondition; `*` stands for "as it is now".
PRECONDITIONS = {("PUT", "/programs/{program_slug}"): {"If-Match": "*"}}


def send(
    client: TestClient, call: Call, headers: dict[str, str] | None
) -> tuple[int, str, dict[str, str]]:
    extra = PRECONDITIONS.get((call.method, call.template.removeprefix(CLINIC_PREFIX)), {})
    headers = {**headers, **extra} if headers is not None else extra or None
    response = client.request(call.method, call.path, headers=headers, json=call.body)
    return response.status_code, response.text, dict(response.headers)


# ---------------------------------------------------------------------------
# Every route, every outsider


OUTSIDERS = ["a_owner", "a_clinician", "a_api_client", "b_patient", "plain_member"]


def outsider_headers(world: World, who: str) -> dict[str, str]:
    return {
        "a_owner": world.a.clinic.owner.headers,
        "a_clinician": world.a.clinician.headers,
        "a_api_client": world.a.client_headers,
        "b_patient": world.b.patient.headers,
        "plain_member": world.member.headers,
    }[who]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_every_clinic_route_answers_404_to_outsiders_and_leaks_nothing(
    client: TestClient, world: World, who: str
) -> None:
    headers = outsider_headers(world, who)
    wrong: list[str] = []
    for call in calls_against(client, world.b):
        status, text, _ = send(client, call, headers)
        leaked = [secret for secret in world.b.secrets() if secret in text]
        if status != 404 or leaked:
            wrong.append(f"{call.method} {call.template}: {status} leaked={leaked} {text[:200]}")
    assert not wrong, "\n".join(wrong)
    # Nothing of B's changed: B's owner still sees B as it was.
    members = client.get(world.b.clinic.path("/members"), headers=world.b.clinic.owner.headers)
    assert {m["user_id"] for m in members.json()} == {
        world.b.clinic.owner.id,
        world.b.clinician.id,
    }
    hooks = client.get(world.b.clinic.path("/webhooks"), headers=world.b.clinic.owner.headers)
    assert [h["id"] for h in hooks.json()] == [world.b.webhook_id]
    clients = client.get(
        world.b.clinic.path("/api-clients"), headers=world.b.clinic.owner.headers
    ).json()
    assert [(c["id"], c["revoked_at"]) for c in clients] == [(world.b.api_client_id, None)]
    enrollments = client.get("/v1/me/enrollments", headers=world.b.patient.headers).json()
    assert [e["program"] for e in enrollments["items"]] == [ENROLLED]
    assert enrollments["items"][0]["current_stage"]["position"] == 1


def test_every_clinic_route_asks_the_anonymous_to_sign_in(client: TestClient, world: World) -> None:
    wrong: list[str] = []
    for call in calls_against(client, world.b):
        status, text, response_headers = send(client, call, None)
        challenge = response_headers.get("www-authenticate", "")
        leaked = [secret for secret in world.b.secrets() if secret in text]
        if status != 401 or not challenge.startswith("Bearer") or leaked:
            wrong.append(f"{call.method} {call.template}: {status} {challenge!r} {leaked}")
    assert not wrong, "\n".join(wrong)


def test_a_clinic_that_does_not_exist_is_the_same_404(client: TestClient, world: World) -> None:
    missing = {**world.b.params(), "clinic_id": "999999"}
    for method, template in clinic_routes(client):
        path = fill(template, missing)
        response = client.request(
            method,
            path,
            headers=world.a.clinic.owner.headers,
            json=body_for(method, template, world.a),
        )
        assert response.status_code == 404, f"{method} {template}: {response.status_code}"
        # No oracle: an existing clinic one may not see answers exactly like a missing one.
        hidden = client.request(
            method,
            fill(template, world.b.params()),
            headers=world.a.clinic.owner.headers,
            json=body_for(method, template, world.a),
        )
        assert (hidden.status_code, detail(hidden)) == (404, detail(response))


@pytest.mark.parametrize("which", ["a", "b"])
def test_an_admin_reaches_every_route_of_every_clinic(
    client: TestClient, world: World, which: str
) -> None:
    """The control: the ids the outsiders were refused are real and usable."""
    side = world.a if which == "a" else world.b
    wrong: list[str] = []
    for call in calls_against(client, side):
        status, text, _ = send(client, call, world.admin.headers)
        if call.template.endswith(CATCH_ALL):
            if status != 404 or "OperationOutcome" not in text:
                wrong.append(f"{call.template}: {status} {text[:200]}")
        elif not 200 <= status < 300:
            wrong.append(f"{call.method} {call.template}: {status} {text[:200]}")
    assert not wrong, "\n".join(wrong)


def reads(client: TestClient, side: Side) -> Iterator[Call]:
    return (
        call
        for call in calls_against(client, side)
        if call.method == "GET" and not call.template.endswith(CATCH_ALL)
    )


# Reads for the clinic's owners alone: a clinician is refused (403), never misled.
OWNERS_ONLY_READS = {CLINIC_PREFIX + "/access-log"}


def test_a_clinics_own_members_and_client_read_what_outsiders_cannot(
    client: TestClient, world: World
) -> None:
    for call in reads(client, world.b):
        # A bulk export's kick-off answers 202 Accepted; every other read 200.
        expected = 202 if call.template.endswith("/$export") else 200
        owner = client.get(call.path, headers=world.b.clinic.owner.headers)
        assert owner.status_code == expected, f"{call.template}: {owner.status_code}"
        clinician = client.get(call.path, headers=world.b.clinician.headers)
        if call.template in OWNERS_ONLY_READS:
            expected = 403
        assert clinician.status_code == expected, f"{call.template}: {clinician.status_code}"
    patients = client.get(world.b.clinic.path("/patients"), headers=world.b.client_headers)
    assert patients.status_code == 200
    assert [p["id"] for p in patients.json()["items"]] == [world.b.patient.id]


# ---------------------------------------------------------------------------
# Object level: another clinic's objects through one's own clinic id


PATIENT_ROUTES = [
    ("GET", "/patients/{pid}", None),
    ("GET", "/patients/{pid}/enrollments", None),
    ("GET", "/patients/{pid}/sessions", None),
    ("GET", "/patients/{pid}/progress", None),
    ("GET", "/patients/{pid}/questionnaires", None),
    ("GET", "/patients/{pid}/responses", None),
    ("POST", "/patients/{pid}/questionnaires", QUESTIONNAIRE),
    ("POST", "/patients/{pid}/enrollments", {"program": ASSIGNABLE}),
    (
        "PUT",
        f"/patients/{{pid}}/enrollments/{ENROLLED}/stage",
        {"stage": 2, "reason": "Cleared by the physiotherapist."},
    ),
]


@pytest.mark.parametrize(("method", "suffix", "body"), PATIENT_ROUTES)
@pytest.mark.parametrize("who", ["a_owner", "a_clinician", "a_api_client", "admin"])
def test_another_clinics_patient_is_not_visible_through_ones_own_clinic(
    client: TestClient,
    world: World,
    who: str,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    headers = world.admin.headers if who == "admin" else outsider_headers(world, who)
    path = world.a.clinic.path(suffix.format(pid=world.b.patient.id))
    response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == 404, response.text
    assert world.b.patient.email not in response.text
    # A's own patient, through A, is fine.
    own = client.request(
        "GET", world.a.clinic.path(f"/patients/{world.a.patient.id}"), headers=headers
    )
    assert own.status_code == 200
    # and nothing was done to B's patient
    enrollments = client.get("/v1/me/enrollments", headers=world.b.patient.headers).json()
    assert [(e["program"], e["current_stage"]["position"]) for e in enrollments["items"]] == [
        (ENROLLED, 1)
    ]


def test_the_patient_list_of_a_clinic_holds_only_its_own_patients(
    client: TestClient, world: World
) -> None:
    listed = client.get(world.a.clinic.path("/patients"), headers=world.admin.headers).json()
    assert [p["id"] for p in listed["items"]] == [world.a.patient.id]
    assert listed["total"] == 1


def test_another_clinics_webhook_and_delivery_are_not_reachable_through_ones_own_clinic(
    client: TestClient, world: World
) -> None:
    a, b = world.a, world.b
    for headers in (a.clinic.owner.headers, a.client_headers, world.admin.headers):
        deliveries = client.get(
            a.clinic.path(f"/webhooks/{b.webhook_id}/deliveries"), headers=headers
        )
        assert deliveries.status_code == 404, deliveries.text
        # B's delivery under A's own webhook
        redeliver = client.post(
            a.clinic.path(f"/webhooks/{a.webhook_id}/deliveries/{b.delivery_id}/redeliver"),
            headers=headers,
        )
        assert redeliver.status_code == 404, redeliver.text
        # B's webhook with B's delivery, through A
        redeliver = client.post(
            a.clinic.path(f"/webhooks/{b.webhook_id}/deliveries/{b.delivery_id}/redeliver"),
            headers=headers,
        )
        assert redeliver.status_code == 404, redeliver.text
        deleted = client.delete(a.clinic.path(f"/webhooks/{b.webhook_id}"), headers=headers)
        assert deleted.status_code == 404, deleted.text
    hooks = client.get(b.clinic.path("/webhooks"), headers=b.clinic.owner.headers).json()
    assert [h["id"] for h in hooks] == [b.webhook_id]
    listed = client.get(a.clinic.path("/webhooks"), headers=a.clinic.owner.headers).json()
    assert [h["id"] for h in listed] == [a.webhook_id]


def test_another_clinics_members_and_api_clients_are_not_reachable_through_ones_own_clinic(
    client: TestClient, world: World
) -> None:
    a, b = world.a, world.b
    for headers in (a.clinic.owner.headers, world.admin.headers):
        removed = client.delete(a.clinic.path(f"/members/{b.clinician.id}"), headers=headers)
        assert removed.status_code == 404, removed.text
        revoked = client.delete(a.clinic.path(f"/api-clients/{b.api_client_id}"), headers=headers)
        assert revoked.status_code == 404, revoked.text
    # B's client still works and B's clinician is still there.
    assert client.get(b.clinic.path("/patients"), headers=b.client_headers).status_code == 200
    assert client.get(b.clinic.path(), headers=b.clinician.headers).status_code == 200


# ---------------------------------------------------------------------------
# Function level: what each kind of caller may do in its own clinic


def test_a_plain_clinician_cannot_manage_members_or_api_clients(
    client: TestClient, world: World
) -> None:
    a = world.a
    headers = a.clinician.headers
    invited = client.post(
        a.clinic.path("/staff-invitations"),
        headers=headers,
        json={"email": a.spare.email, "role": "owner"},
    )
    assert invited.status_code == 403, invited.text
    removed = client.delete(a.clinic.path(f"/members/{a.clinic.owner.id}"), headers=headers)
    assert removed.status_code == 403, removed.text
    created = client.post(
        a.clinic.path("/api-clients"),
        headers=headers,
        json={"name": "Mine", "scopes": ALL_SCOPES},
    )
    assert created.status_code == 403, created.text
    revoked = client.delete(a.clinic.path(f"/api-clients/{a.api_client_id}"), headers=headers)
    assert revoked.status_code == 403, revoked.text
    # Nothing changed.
    members = client.get(a.clinic.path("/members"), headers=a.clinic.owner.headers).json()
    assert sorted(m["user_id"] for m in members) == sorted([a.clinic.owner.id, a.clinician.id])
    clients = client.get(a.clinic.path("/api-clients"), headers=a.clinic.owner.headers).json()
    assert [(c["id"], c["revoked_at"]) for c in clients] == [(a.api_client_id, None)]
    # What a clinician may do, they can.
    assert client.get(a.clinic.path("/patients"), headers=headers).status_code == 200
    assert client.post(a.clinic.path("/invitations"), headers=headers).status_code == 201


def test_an_api_client_cannot_do_what_only_people_do(client: TestClient, world: World) -> None:
    a = world.a
    headers = a.client_headers
    refused = [
        ("GET", "/members", None),
        ("POST", "/staff-invitations", {"email": a.spare.email, "role": "owner"}),
        ("GET", "/staff-invitations", None),
        ("DELETE", f"/members/{a.clinician.id}", None),
        ("POST", "/invitations", None),
        ("GET", "/invitations", None),
        ("GET", "/api-clients", None),
        ("POST", "/api-clients", {"name": "Child", "scopes": ALL_SCOPES}),
        ("DELETE", f"/api-clients/{a.api_client_id}", None),
    ]
    for method, suffix, body in refused:
        response = client.request(method, a.clinic.path(suffix), headers=headers, json=body)
        assert response.status_code == 403, f"{method} {suffix}: {response.text}"
    # Its token still works for what its scopes allow.
    assert client.get(a.clinic.path("/patients"), headers=headers).status_code == 200
    # It cannot act as a user anywhere.
    assert client.get("/v1/clinics", headers=headers).status_code == 401
    created = client.post("/v1/clinics", headers=headers, json={"name": "Rogue"})
    assert created.status_code == 401


def test_an_admin_manages_members_and_api_clients_of_both_clinics(
    client: TestClient, world: World
) -> None:
    for side in (world.a, world.b):
        add_staff(client, side.clinic.id, world.admin.headers, side.spare, "owner")
        created = client.post(
            side.clinic.path("/api-clients"),
            headers=world.admin.headers,
            json={"name": "Admin's", "scopes": ["patients:read"]},
        )
        assert created.status_code == 201, created.text
        patients = client.get(side.clinic.path("/patients"), headers=world.admin.headers)
        assert [p["id"] for p in patients.json()["items"]] == [side.patient.id]
    listed = client.get("/v1/clinics", headers=world.admin.headers).json()
    assert sorted(c["id"] for c in listed) == sorted([world.a.clinic.id, world.b.clinic.id])


def test_the_clinic_list_shows_only_ones_own_clinics(client: TestClient, world: World) -> None:
    patient = client.get("/v1/clinics", headers=world.b.patient.headers)
    assert patient.status_code == 200
    assert patient.json() == []
    assert client.get("/v1/clinics", headers=world.member.headers).json() == []
    own = client.get("/v1/clinics", headers=world.a.clinician.headers).json()
    assert [(c["id"], c["name"]) for c in own] == [(world.a.clinic.id, world.a.name)]
    assert client.get("/v1/clinics").status_code == 401


@pytest.mark.parametrize("who", ["a_owner", "a_clinician", "b_patient", "plain_member"])
def test_only_an_admin_creates_a_clinic(client: TestClient, world: World, who: str) -> None:
    response = client.post(
        "/v1/clinics", headers=outsider_headers(world, who), json={"name": "My own clinic"}
    )
    assert response.status_code == 403, response.text
    assert len(client.get("/v1/clinics", headers=world.admin.headers).json()) == 2
    made = client.post("/v1/clinics", headers=world.admin.headers, json={"name": "Third"})
    assert made.status_code == 201


def test_a_removed_clinician_is_shut_out_at_once(client: TestClient, world: World) -> None:
    a = world.a
    assert client.get(a.clinic.path("/patients"), headers=a.clinician.headers).status_code == 200
    removed = client.delete(
        a.clinic.path(f"/members/{a.clinician.id}"), headers=a.clinic.owner.headers
    )
    assert removed.status_code == 204
    for call in calls_against(client, a):
        status, text, _ = send(client, call, a.clinician.headers)
        assert status == 404, f"{call.method} {call.template}: {status}"
        assert a.patient.email not in text
    assert client.get("/v1/clinics", headers=a.clinician.headers).json() == []
    # The last owner cannot be removed, so a clinic is never left without one.
    last = client.delete(
        a.clinic.path(f"/members/{a.clinic.owner.id}"), headers=world.admin.headers
    )
    assert last.status_code == 409


def test_a_clinician_removed_from_every_clinic_loses_the_clinicians_view(
    client: TestClient, world: World
) -> None:
    a = world.a
    removed = client.delete(
        a.clinic.path(f"/members/{a.clinician.id}"), headers=a.clinic.owner.headers
    )
    assert removed.status_code == 204
    assert client.get("/v1/me", headers=a.clinician.headers).json()["role"] == "member"
    detail = client.get(f"/v1/programs/{ENROLLED}", headers=a.clinician.headers).json()
    accesses = [stage["exercises"][0]["exercise"]["access"] for stage in detail["stages"]]
    assert accesses == ["unlocked"] + ["locked"] * 4
