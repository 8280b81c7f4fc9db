"""A clinic reads its patients' responses only through the one visibility filter."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.clinics.test_isolation import program_body
from tests.conftest import ClinicFactory, ClinicSetup, Person, link
from tests.outcomes.conftest import PROGRAM, Answer, answered, schedule


def responses(client: TestClient, clinic: ClinicSetup, patient: Person) -> Any:
    return client.get(
        clinic.path(f"/patients/{patient.id}/responses"), headers=clinic.owner.headers
    )


def test_the_clinic_reads_scores_and_change_another_clinic_gets_404(
    client: TestClient, clinic: ClinicSetup, patient: Person, make_clinic: ClinicFactory
) -> None:
    made = schedule(client, clinic, patient, "pain-rating", "at_enrollment")
    answered(client, patient, Answer(made["id"], {"worst": 6, "average": 4}))
    read = responses(client, clinic, patient)
    assert read.status_code == 200
    [item] = read.json()["items"]
    assert (item["instrument"], item["scores"]["total"]["value"]) == ("pain-rating", 5.0)

    other = make_clinic("Other Clinic")
    assert responses(client, other, patient).status_code == 404
    refused = client.post(
        other.path(f"/patients/{patient.id}/questionnaires"),
        headers=other.owner.headers,
        json={"instrument": "pain-rating", "program": PROGRAM, "kind": "at_enrollment"},
    )
    assert refused.status_code == 404


def test_responses_about_one_clinics_own_program_stay_with_that_clinic(
    client: TestClient, clinic: ClinicSetup, patient: Person, make_clinic: ClinicFactory
) -> None:
    built = client.post(
        clinic.path("/programs"),
        headers=clinic.owner.headers,
        json=program_body("Knee plan", "knee-plan"),
    )
    assert built.status_code == 201, built.text
    own = built.json()["program"]
    assigned = client.post(
        clinic.path(f"/patients/{patient.id}/enrollments"),
        headers=clinic.owner.headers,
        json={"program": own},
    )
    assert assigned.status_code == 201, assigned.text
    other = make_clinic("Other Clinic")
    link(client, other, patient)

    private = schedule(client, clinic, patient, "pain-rating", "at_enrollment", program=own)
    public = schedule(client, clinic, patient, "global-change", "at_enrollment")
    answered(client, patient, Answer(private["id"], {"worst": 6, "average": 4}))
    answered(client, patient, Answer(public["id"], {"change": 3}))

    def seen(by: ClinicSetup) -> list[str]:
        response = responses(client, by, patient)
        assert response.status_code == 200
        return sorted(item["instrument"] for item in response.json()["items"])

    assert seen(clinic) == ["global-change", "pain-rating"]
    assert seen(other) == ["global-change"]
    listed = client.get(
        other.path(f"/patients/{patient.id}/questionnaires"), headers=other.owner.headers
    ).json()
    assert [s["instrument"] for s in listed] == ["global-change"]
