"""The FHIR interface as a clinic's system uses it: metadata, search, read, $everything, errors."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from app.fhir.context import encode_cursor
from app.fhir.resources import REGISTRY
from tests.conftest import ClinicFactory, PersonFactory, api_client_token, link
from tests.fhir.conftest import (
    FHIR_JSON,
    PROGRAM,
    FhirWorld,
    bundle_resources,
    fhir_json,
    log_session,
    next_link,
    valid,
)


def test_metadata_lists_every_type_with_its_interactions(fhir_world: FhirWorld) -> None:
    statement = fhir_world.ok("/metadata")

    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    [rest] = statement["rest"]
    served = {r["type"]: r for r in rest["resource"]}
    assert set(served) == set(REGISTRY.types)
    assert {"Patient", "CarePlan", "ServiceRequest", "Observation"} <= set(served)
    assert {op["name"] for op in served["Patient"]["operation"]} == {"everything", "export"}
    assert {p["name"] for p in served["Observation"]["searchParam"]} == {"patient", "_lastUpdated"}
    assert statement["implementation"]["url"].endswith(
        f"/v1/clinics/{fhir_world.clinic.id}/fhir/R4"
    )


def test_search_finds_the_patients_care_plan_and_its_prescription(fhir_world: FhirWorld) -> None:
    patient = fhir_world.patient.id
    plans = bundle_resources(fhir_world.ok("/CarePlan", patient=patient))
    [plan] = plans
    assert plan["subject"] == {"reference": f"Patient/{patient}"}
    assert (plan["status"], plan["intent"], plan["title"]) == (
        "active",
        "plan",
        "Whole Leg Rehabilitation",
    )
    assert plan["extension"][0]["valuePositiveInt"] == 1
    activities = [a["detail"] for a in plan["activity"]]
    assert activities
    assert all(a["scheduledTiming"]["repeat"]["frequency"] >= 1 for a in activities)
    assert all(a["quantity"]["code"] == "{set}" for a in activities)

    [request] = bundle_resources(fhir_world.ok("/ServiceRequest", patient=f"Patient/{patient}"))
    assert request["basedOn"] == [{"reference": f"CarePlan/{plan['id']}"}]
    assert request["code"]["coding"][0]["code"] == "229065009"
    assert len(request["orderDetail"]) == len(activities)


def test_each_session_is_an_observation_with_pain_on_loinc_72514_3(fhir_world: FhirWorld) -> None:
    bundle = fhir_world.ok("/Observation", patient=fhir_world.patient.id)
    sessions = [o for o in bundle_resources(bundle) if o["id"] in fhir_world.sessions]
    assert len(sessions) == 2
    pains = {
        c["valueQuantity"]["value"]
        for o in sessions
        for c in o["component"]
        if c["code"]["coding"][0]["code"] == "72514-3"
    }
    assert pains == {2, 4}
    session = sessions[0]
    members = session["contained"]
    assert [m["code"]["coding"][0]["code"] for m in members] == ["73985-4"] * len(members)
    assert session["hasMember"] == [{"reference": f"#{m['id']}"} for m in members]
    adherence = [o for o in bundle_resources(bundle) if o["id"].startswith("adherence-")]
    [this_week] = adherence
    assert this_week["status"] == "preliminary"
    logged = {c["code"]["coding"][0]["code"]: c["valueInteger"] for c in this_week["component"]}
    assert logged["sessions-logged"] == 2


def test_pages_follow_next_links_to_every_resource(fhir_world: FhirWorld) -> None:
    for _ in range(3):
        log_session(fhir_world.client, fhir_world.patient)
    everything = bundle_resources(fhir_world.ok("/Observation", _count=200))
    seen: list[str] = []
    bundle = fhir_world.ok("/Observation", _count=2)
    while True:
        seen += [r["id"] for r in bundle_resources(bundle)]
        link = next_link(bundle)
        if link is None:
            break
        url = urlsplit(link)
        bundle = fhir_json(
            fhir_world.client.get(f"{url.path}?{url.query}", headers=fhir_world.headers)
        )
    assert seen == [r["id"] for r in everything]
    assert len(seen) == 6  # five sessions and this week's adherence


def test_every_search_result_reads_back_the_same(fhir_world: FhirWorld) -> None:
    for kind in ("Patient", "CarePlan", "ServiceRequest", "Observation"):
        for resource in bundle_resources(fhir_world.ok(f"/{kind}")):
            assert fhir_world.ok(f"/{kind}/{resource['id']}") == resource


def test_last_updated_narrows_a_search(fhir_world: FhirWorld) -> None:
    assert bundle_resources(fhir_world.ok("/Observation", _lastUpdated="gt2999-01-01")) == []
    found = fhir_world.ok("/Observation", _lastUpdated=["ge2020-01", "lt2999-12-31T00:00:00Z"])
    assert len(bundle_resources(found)) == 3


def test_unknown_parameters_are_ignored_with_a_warning_or_refused_when_strict(
    fhir_world: FhirWorld,
) -> None:
    lenient = fhir_world.ok("/CarePlan", colour="blue")
    outcome = lenient["entry"][-1]
    assert outcome["search"]["mode"] == "outcome"
    assert "colour" in outcome["resource"]["issue"][0]["diagnostics"]

    strict = fhir_world.client.get(
        fhir_world.base() + "/CarePlan",
        params={"colour": "blue"},
        headers={**fhir_world.headers, "Prefer": "handling=strict"},
    )
    assert "colour" in fhir_json(strict, 400)["issue"][0]["diagnostics"]


def test_everything_gives_the_patient_and_all_about_them(fhir_world: FhirWorld) -> None:
    patient = fhir_world.patient.id
    bundle = fhir_world.ok(f"/Patient/{patient}/$everything")
    kinds = [r["resourceType"] for r in bundle_resources(bundle)]
    assert kinds[0] == "Patient"
    assert {"CarePlan", "ServiceRequest", "Observation"} <= set(kinds)
    only = fhir_world.ok(f"/Patient/{patient}/$everything", _type="CarePlan", _count=1)
    assert [r["resourceType"] for r in bundle_resources(only)] == ["CarePlan"]


def test_errors_are_operation_outcomes(
    client: TestClient, fhir_world: FhirWorld, make_clinic: ClinicFactory
) -> None:
    world = fhir_world
    no_token = client.get(world.base() + "/Patient")
    assert fhir_json(no_token, 401)["issue"][0]["code"] == "login"
    assert no_token.headers["www-authenticate"] == "Bearer"

    without_scope = api_client_token(client, world.clinic, ["patients:read"])
    assert fhir_json(world.get("/Patient", headers=without_scope), 403)["issue"][0]["code"] == (
        "forbidden"
    )
    other = make_clinic("Elsewhere")
    outsider = api_client_token(client, other, ["fhir:read"])
    assert fhir_json(world.get("/Patient", headers=outsider), 404)["issue"][0]["code"] == (
        "not-found"
    )

    assert fhir_json(world.get("/Medication"), 404)["issue"][0]["code"] == "not-found"
    assert fhir_json(world.get("/Patient/999999"), 404)
    assert fhir_json(world.get("/Patient/$nonsense/x/y"), 404)
    assert fhir_json(world.get("/Observation", _count="many"), 400)
    assert fhir_json(world.get("/Observation", _format="xml"), 406)
    posted = client.post(world.base() + "/Patient", headers=world.headers, json={})
    assert fhir_json(posted, 405)["issue"][0]["code"] == "not-supported"
    assert posted.headers["allow"] == "GET"


def test_clinic_staff_read_too(fhir_world: FhirWorld) -> None:
    staff = fhir_world.clinic.owner.headers
    bundle = fhir_json(fhir_world.get("/Patient", headers=staff))
    assert [p["id"] for p in bundle_resources(bundle)] == [str(fhir_world.patient.id)]


def test_a_withdrawn_consent_removes_the_patient_at_once(fhir_world: FhirWorld) -> None:
    world = fhir_world
    plan = bundle_resources(world.ok("/CarePlan"))[0]
    withdrawn = world.client.delete(
        f"/v1/me/clinic-links/{world.clinic.id}", headers=world.patient.headers
    )
    assert withdrawn.status_code == 204, withdrawn.text

    for kind in ("Patient", "CarePlan", "ServiceRequest", "Observation"):
        assert bundle_resources(world.ok(f"/{kind}")) == []
    assert fhir_json(world.get(f"/CarePlan/{plan['id']}"), 404)
    assert fhir_json(world.get(f"/Patient/{world.patient.id}/$everything"), 404)


def test_a_patient_of_another_clinic_is_not_found(
    client: TestClient,
    fhir_world: FhirWorld,
    make_clinic: ClinicFactory,
    make_person: PersonFactory,
) -> None:
    stranger = make_person()
    other = make_clinic("Elsewhere")
    link(client, other, stranger)
    response = client.post(
        "/v1/me/enrollments", headers=stranger.headers, json={"program": PROGRAM}
    )
    assert response.status_code == 201
    assert fhir_json(fhir_world.get(f"/Patient/{stranger.id}"), 404)
    assert bundle_resources(fhir_world.ok("/CarePlan", patient=stranger.id)) == []


def test_the_media_type_is_fhir_json(fhir_world: FhirWorld) -> None:
    response = fhir_world.get("/metadata")
    assert response.headers["content-type"] == FHIR_JSON
    assert response.headers["cache-control"] == "private, no-cache"
    valid(response.json())


def test_hostile_parameters_are_a_400_never_a_crash(fhir_world: FhirWorld) -> None:
    bad: list[tuple[str, dict[str, str]]] = [
        ("/Observation", {"_count": "9" * 5000}),
        ("/Observation", {"_count": "0"}),
        ("/Observation", {"_cursor": "not a cursor"}),
        ("/Observation", {"_cursor": "A" * 600}),
        ("/Patient", {"_cursor": encode_cursor(("abc",))}),
        ("/CarePlan", {"_cursor": encode_cursor((2**60,))}),
        ("/Observation", {"_cursor": encode_cursor(("s", "x", 1))}),
        ("/Observation", {"_lastUpdated": "yesterday"}),
        ("/Observation", {"_lastUpdated": "ge2026-13-45"}),
        ("/Observation", {"_lastUpdated": "sa2026-01-01"}),
        ("/Observation", {"patient": ",".join(["1"] * 101)}),
        (f"/Patient/{fhir_world.patient.id}/$everything", {"_type": "Medication"}),
    ]
    for path, params in bad:
        asked = fhir_world.client.get(
            fhir_world.base() + path, headers=fhir_world.headers, params=params
        )
        fhir_json(asked, 400)
    for path, params in [
        ("/Observation", {"patient": "9" * 40}),
        ("/Observation", {"patient": "Practitioner/1"}),
        ("/Patient", {"_id": "x" * 65}),
    ]:
        assert bundle_resources(fhir_world.ok(path, **params)) == []
    assert fhir_json(fhir_world.get("/Patient/" + "9" * 64), 404)
    assert fhir_json(fhir_world.get("/Patient/%00"), 404)
