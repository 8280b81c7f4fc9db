"""Bulk Data `Patient/$export`: kick-off, polling, NDJSON files behind signed links, consent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.catalog.loading import load_snapshot
from app.catalog.snapshot import CatalogSnapshot
from app.clinics.access_log import ACCESS_LOG
from app.clinics.service import withdraw
from app.core.config import Settings
from app.core.db import Database
from app.core.models import utcnow
from app.fhir import export
from app.fhir.context import Criteria, FhirContext, Key
from app.fhir.models import ExportJob, ExportStatus
from app.fhir.registry import Found, Registry
from app.fhir.resources import REGISTRY
from app.fhir.resources.patients import PatientProvider
from tests.conftest import ClinicFactory, LinkedPatientFactory, api_client_token
from tests.fhir.conftest import PROGRAM, FhirWorld, fhir_json, valid
from tests.progress.conftest import enroll

ASYNC = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def kick_off(world: FhirWorld, headers: dict[str, str] | None = None, **params: Any) -> str:
    response = world.client.get(
        world.base() + "/Patient/$export",
        headers={**(headers or world.headers), **ASYNC},
        params=params,
    )
    fhir_json(response, 202)
    location: str = response.headers["content-location"]
    assert location.startswith("http://testserver" + world.base() + "/$export-status/")
    return urlsplit(location).path


def manifest(world: FhirWorld, status_path: str) -> dict[str, Any]:
    response = world.client.get(status_path, headers=world.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def download(client: TestClient, url: str) -> list[dict[str, Any]]:
    """An NDJSON file, fetched by its link alone (no token), each line a valid resource."""
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    return [valid(orjson.loads(line)) for line in response.content.splitlines()]


def files(client: TestClient, body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {item["type"]: download(client, item["url"]) for item in body["output"]}


def test_export_kick_off_poll_and_download(fhir_world: FhirWorld) -> None:
    status = kick_off(fhir_world)
    body = manifest(fhir_world, status)

    assert body["requiresAccessToken"] is False
    assert body["request"].endswith("/Patient/$export")
    exported = files(fhir_world.client, body)
    assert set(exported) == {
        "Patient",
        "CarePlan",
        "ServiceRequest",
        "Observation",
        "Questionnaire",
        "QuestionnaireResponse",
    }
    assert {item["type"]: item["count"] for item in body["output"]} == {
        kind: len(lines) for kind, lines in exported.items()
    }
    assert [p["id"] for p in exported["Patient"]] == [str(fhir_world.patient.id)]
    assert {o["id"] for o in exported["Observation"]} >= set(fhir_world.sessions)


def test_export_types_and_since(fhir_world: FhirWorld) -> None:
    body = manifest(fhir_world, kick_off(fhir_world, _type="CarePlan,Observation"))
    assert [item["type"] for item in body["output"]] == ["CarePlan", "Observation"]
    later = manifest(fhir_world, kick_off(fhir_world, _since="2999-01-01T00:00:00Z"))
    assert later["output"] == []


def test_export_refuses_what_it_does_not_support(fhir_world: FhirWorld) -> None:
    base = fhir_world.base() + "/Patient/$export"
    for params in ({"_type": "Medication"}, {"_outputFormat": "text/csv"}, {"_typeFilter": "x"}):
        response = fhir_world.client.get(base, headers=fhir_world.headers, params=params)
        assert fhir_json(response, 400)["issue"][0]["code"] == "invalid"


def test_another_clinic_gets_nothing_of_an_export(
    client: TestClient, fhir_world: FhirWorld, make_clinic: ClinicFactory
) -> None:
    status = kick_off(fhir_world)
    other = make_clinic("Elsewhere")
    outsider = api_client_token(client, other, ["fhir:read"])
    stolen = status.replace(f"/clinics/{fhir_world.clinic.id}/", f"/clinics/{other.id}/")
    assert fhir_json(client.get(stolen, headers=outsider), 404)
    assert fhir_json(client.get(status, headers=outsider), 404)
    # The clinic's own people may follow it (they may read the same data).
    assert client.get(status, headers=fhir_world.clinic.owner.headers).status_code == 200


def test_a_forged_or_expired_link_is_refused(fhir_world: FhirWorld) -> None:
    body = manifest(fhir_world, kick_off(fhir_world))
    parts = urlsplit(body["output"][0]["url"])
    forged = parts.query.replace("signature=", "signature=0")[:-1]
    response = fhir_world.client.get(f"{parts.path}?{forged}")
    assert fhir_json(response, 403)["issue"][0]["code"] == "forbidden"
    other_file = parts.path.replace("Patient.ndjson", "CarePlan.ndjson")
    assert fhir_json(fhir_world.client.get(f"{other_file}?{parts.query}"), 403)


def test_cancel_deletes_the_files(fhir_world: FhirWorld, settings: Settings) -> None:
    status = kick_off(fhir_world)
    body = manifest(fhir_world, status)
    job_id = status.rsplit("/", 1)[1]
    assert export.folder_of(settings.data_dir, job_id).is_dir()

    cancelled = fhir_world.client.delete(status, headers=fhir_world.headers)
    fhir_json(cancelled, 202)
    assert not export.folder_of(settings.data_dir, job_id).exists()
    assert fhir_json(fhir_world.client.get(status, headers=fhir_world.headers), 404)
    url = urlsplit(body["output"][0]["url"])
    assert fhir_json(fhir_world.client.get(f"{url.path}?{url.query}"), 404)


def test_a_withdrawal_after_the_export_removes_the_patient_from_its_files(
    fhir_world: FhirWorld,
) -> None:
    body = manifest(fhir_world, kick_off(fhir_world))
    withdrawn = fhir_world.client.delete(
        f"/v1/me/clinic-links/{fhir_world.clinic.id}", headers=fhir_world.patient.headers
    )
    assert withdrawn.status_code == 204
    left = files(fhir_world.client, body)
    assert all(lines == [] for kind, lines in left.items() if kind != "Questionnaire")
    assert left["Questionnaire"], "the forms are about no one: they stay"


class WithdrawingPatients(PatientProvider):
    """Patients, as an export reads them; one patient withdraws while their batch is read."""

    def __init__(self, database: Database, clinic_id: int, leaver: int) -> None:
        self.database, self.clinic_id, self.leaver = database, clinic_id, leaver

    def search(self, ctx: FhirContext, criteria: Criteria, after: Key | None) -> Iterator[Found]:
        for found in super().search(ctx, criteria, after):
            if found.patient_id == self.leaver:
                with self.database.write_session() as session:
                    withdraw(
                        session, patient_id=self.leaver, clinic_id=self.clinic_id, now=utcnow()
                    )
            yield found


def test_a_withdrawal_during_an_export_is_seen_before_the_next_write(
    fhir_world: FhirWorld,
    database: Database,
    settings: Settings,
    make_linked_patient: LinkedPatientFactory,
) -> None:
    stayers = [make_linked_patient(fhir_world.clinic) for _ in range(3)]
    for person in stayers:
        enroll(fhir_world.client, person, PROGRAM)
    leaver = fhir_world.patient.id
    status = kick_off(fhir_world, _type="Patient")  # runs now; export again by hand below
    job_id = status.rsplit("/", 1)[1]
    with database.write_session() as session:
        job = session.get(ExportJob, job_id)
        assert job is not None
        job.status = ExportStatus.QUEUED
        job.types = ["Patient", "CarePlan"]
    registry = Registry(
        [WithdrawingPatients(database, fhir_world.clinic.id, leaver), *REGISTRY.providers[1:2]]
    )

    export.run_export(
        database,
        job_id,
        snapshot=_snapshot(database),
        registry=registry,
        data_dir=settings.data_dir,
        reads=ACCESS_LOG.of_app(fhir_world.client.app),
        batch=2,
    )

    exported = files(fhir_world.client, manifest(fhir_world, status))
    assert sorted(int(p["id"]) for p in exported["Patient"]) == sorted(p.id for p in stayers)
    plans = {r["subject"]["reference"] for r in exported["CarePlan"]}
    assert plans == {f"Patient/{p.id}" for p in stayers}


def _snapshot(database: Database) -> CatalogSnapshot:
    with database.read_session() as session:
        return load_snapshot(session, media_url=lambda key: key)


def test_export_jobs_are_recorded_per_clinic(fhir_world: FhirWorld, database: Database) -> None:
    kick_off(fhir_world)
    with database.read_session() as session:
        jobs = session.exec(
            select(ExportJob).where(col(ExportJob.clinic_id) == fhir_world.clinic.id)
        ).all()
    assert len(jobs) == 1
    assert jobs[0].status == "completed"
