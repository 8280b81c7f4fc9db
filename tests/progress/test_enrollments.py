"""Enrollments, the evaluation criterion by criterion, advancing, and the lock following it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.authoring.report import ContentReport
from tests.conftest import Person, PersonFactory
from tests.progress.conftest import Backdate, enroll, log, now, session_body, stage_slugs

pytestmark = pytest.mark.usefixtures("seeded")
WHOLE_LEG = "whole-leg-rehabilitation"
GAIT = "running-gait-retraining"


def stage_accesses(client: TestClient, person: Person, program: str) -> list[str]:
    detail = client.get(f"/v1/programs/{program}", headers=person.headers).json()
    return [stage["exercises"][0]["exercise"]["access"] for stage in detail["stages"]]


class TestEnrolling:
    def test_enrolling_starts_at_stage_one_with_history(
        self, client: TestClient, member: Person
    ) -> None:
        response = client.post(
            "/v1/me/enrollments", headers=member.headers, json={"program": WHOLE_LEG}
        )
        assert response.status_code == 201
        assert response.headers["location"] == f"/v1/me/enrollments/{WHOLE_LEG}"
        body = response.json()
        assert body["current_stage"] == {"position": 1, "name": "Level 1"}
        assert body["stage_count"] == 5
        assert [(h["from_stage"], h["to_stage"], h["reason"]) for h in body["history"]] == [
            (None, 1, "enrolled")
        ]

    def test_enrolling_twice_is_a_409(self, client: TestClient, member: Person) -> None:
        enroll(client, member, WHOLE_LEG)
        again = client.post(
            "/v1/me/enrollments", headers=member.headers, json={"program": WHOLE_LEG}
        )
        assert again.status_code == 409
        listed = client.get("/v1/me/enrollments", headers=member.headers).json()
        assert listed["total"] == 1

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"program": "no-such-program"}, 404),
            ({"program": WHOLE_LEG, "extra": 1}, 422),
            ({"program": 5}, 422),
            ({}, 422),
        ],
    )
    def test_bad_enrollments_are_refused(
        self, client: TestClient, member: Person, body: dict[str, object], status: int
    ) -> None:
        response = client.post("/v1/me/enrollments", headers=member.headers, json=body)
        assert response.status_code == status
        assert client.get("/v1/me/enrollments", headers=member.headers).json()["total"] == 0

    def test_enrollments_need_a_sign_in(self, client: TestClient) -> None:
        response = client.post("/v1/me/enrollments", json={"program": WHOLE_LEG})
        assert response.status_code == 401

    def test_leaving_keeps_sessions_and_enrolling_again_starts_over(
        self, client: TestClient, member: Person
    ) -> None:
        enroll(client, member, WHOLE_LEG)
        log(client, member, session_body(WHOLE_LEG, 1, stage_slugs(client, WHOLE_LEG, 1)[:1]))
        left = client.delete(f"/v1/me/enrollments/{WHOLE_LEG}", headers=member.headers)
        assert left.status_code == 204
        assert (
            client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=member.headers).status_code == 404
        )
        assert len(client.get("/v1/me/sessions", headers=member.headers).json()["items"]) == 1
        assert enroll(client, member, WHOLE_LEG)["current_stage"]["position"] == 1

    def test_other_peoples_enrollments_are_not_visible(
        self, client: TestClient, make_person: PersonFactory
    ) -> None:
        owner, other = make_person(), make_person()
        enroll(client, owner, WHOLE_LEG)
        assert (
            client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=other.headers).status_code == 404
        )
        assert client.get("/v1/me/enrollments", headers=other.headers).json()["total"] == 0


def sessions_counted_after_logging_at(
    client: TestClient, member: Person, performed_at: datetime
) -> str:
    """Enroll, log one stage-1 session stamped `performed_at`; the session criterion's summary."""
    enroll(client, member, WHOLE_LEG)
    level1 = stage_slugs(client, WHOLE_LEG, 1)
    body = session_body(WHOLE_LEG, 1, level1, performed_at=performed_at)
    assert log(client, member, body).is_success
    detail = client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=member.headers).json()
    summaries = {c["criterion"]: c["summary"] for c in detail["evaluation"]["criteria"]}
    summary: str = summaries["min_sessions"]
    return summary


class TestEvaluation:
    def test_a_session_stamped_a_moment_before_the_stage_started_still_counts(
        self, client: TestClient, member: Person
    ) -> None:
        # Phones send whole seconds, and their clocks run a little behind.
        stamped = (now() - timedelta(seconds=20)).replace(microsecond=0)
        assert sessions_counted_after_logging_at(client, member, stamped) == (
            "1 of 6 sessions logged"
        )

    def test_a_session_from_well_before_the_stage_started_does_not_count(
        self, client: TestClient, member: Person
    ) -> None:
        earlier = now() - timedelta(hours=2)
        assert sessions_counted_after_logging_at(client, member, earlier) == (
            "0 of 6 sessions logged"
        )

    def test_detail_evaluates_each_criterion_with_numbers(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, WHOLE_LEG)
        set_stage_age(member, WHOLE_LEG, 3.5)
        level1 = stage_slugs(client, WHOLE_LEG, 1)
        log(client, member, session_body(WHOLE_LEG, 1, level1[:4]))
        log(client, member, session_body(WHOLE_LEG, 1, level1[4:], difficulty="hard"))
        evaluation = client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=member.headers).json()[
            "evaluation"
        ]
        summaries = {c["criterion"]: (c["met"], c["summary"]) for c in evaluation["criteria"]}
        assert summaries["min_days"] == (False, "3 of 7 days at this stage")
        assert summaries["min_sessions"] == (False, "2 of 6 sessions logged")
        assert summaries["all_exercises_easy"] == (
            False,
            f"4 of {len(level1)} exercises rated easy",
        )
        assert summaries["pain_below_limit"][0] is True
        assert evaluation["can_advance"] is False

    def test_the_latest_rating_counts(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, WHOLE_LEG)
        level1 = stage_slugs(client, WHOLE_LEG, 1)
        log(client, member, session_body(WHOLE_LEG, 1, level1, difficulty="hard"))
        log(client, member, session_body(WHOLE_LEG, 1, level1, difficulty="easy"))
        easy = self._criterion(client, member, "all_exercises_easy")
        assert easy["met"] is True
        log(client, member, session_body(WHOLE_LEG, 1, level1[:1], difficulty="moderate"))
        assert self._criterion(client, member, "all_exercises_easy")["met"] is False

    def test_a_recent_pain_report_holds_progression_and_advises_help(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, WHOLE_LEG)
        set_stage_age(member, WHOLE_LEG, 10)
        level1 = stage_slugs(client, WHOLE_LEG, 1)
        for _ in range(6):
            log(client, member, session_body(WHOLE_LEG, 1, level1))
        log(client, member, session_body(WHOLE_LEG, 1, level1, pain=7))
        detail = client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=member.headers).json()
        assert detail["evaluation"]["pain_hold"] is True
        refused = client.post(f"/v1/me/enrollments/{WHOLE_LEG}/advance", headers=member.headers)
        assert refused.status_code == 409
        assert refused.json()["pain_hold"] is True
        assert "health professional" in refused.json()["detail"]

    @staticmethod
    def _criterion(client: TestClient, member: Person, name: str) -> dict[str, object]:
        detail = client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=member.headers).json()
        criterion: dict[str, object] = next(
            c for c in detail["evaluation"]["criteria"] if c["criterion"] == name
        )
        return criterion


class TestAdvancing:
    def test_running_gait_on_day_one_is_refused_naming_the_14_day_rule(
        self, client: TestClient, member: Person
    ) -> None:
        enroll(client, member, GAIT)
        response = client.post(f"/v1/me/enrollments/{GAIT}/advance", headers=member.headers)
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        unmet = {u["criterion"]: u for u in problem["unmet"]}
        assert unmet["min_days"]["required"] == 14
        assert unmet["min_days"]["current"] == 0
        assert "0 of 14 days" in problem["detail"]
        detail = client.get(f"/v1/me/enrollments/{GAIT}", headers=member.headers).json()
        assert detail["current_stage"]["position"] == 1

    def test_whole_leg_walk_through_unlocks_level_two(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, WHOLE_LEG)
        assert stage_accesses(client, member, WHOLE_LEG) == ["unlocked"] + ["locked"] * 4
        level2_lock = client.get(f"/v1/programs/{WHOLE_LEG}", headers=member.headers).json()[
            "stages"
        ][1]["exercises"][0]["exercise"]["lock"]
        assert level2_lock["reason"] == "stage_locked"
        assert "7 more days" in level2_lock["unlock_hint"]
        assert "6 more sessions" in level2_lock["unlock_hint"]

        level1 = stage_slugs(client, WHOLE_LEG, 1)
        for _ in range(6):
            assert log(client, member, session_body(WHOLE_LEG, 1, level1)).status_code == 201
        hint = client.get(f"/v1/programs/{WHOLE_LEG}", headers=member.headers).json()["stages"][1][
            "exercises"
        ][0]["exercise"]["lock"]["unlock_hint"]
        assert hint == "To reach stage 2: 7 more days."
        set_stage_age(member, WHOLE_LEG, 7)

        advanced = client.post(f"/v1/me/enrollments/{WHOLE_LEG}/advance", headers=member.headers)
        assert advanced.status_code == 200, advanced.text
        body = advanced.json()
        assert body["current_stage"] == {"position": 2, "name": "Level 2"}
        assert body["history"][-1]["reason"] == "rule"
        assert (body["history"][-1]["from_stage"], body["history"][-1]["to_stage"]) == (1, 2)
        assert body["evaluation"]["criteria"][0]["current"] == 0  # the clock restarts
        assert (
            stage_accesses(client, member, WHOLE_LEG) == ["unlocked", "unlocked"] + ["locked"] * 3
        )
        unlocked = client.get(
            f"/v1/exercises/{stage_slugs(client, WHOLE_LEG, 2)[-1]}", headers=member.headers
        )
        assert unlocked.json()["access"] == "unlocked"

    def test_advancing_moves_exactly_one_stage(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, WHOLE_LEG)
        self._meet_stage(client, member, set_stage_age, 1)
        assert (
            client.post(
                f"/v1/me/enrollments/{WHOLE_LEG}/advance", headers=member.headers
            ).status_code
            == 200
        )
        again = client.post(f"/v1/me/enrollments/{WHOLE_LEG}/advance", headers=member.headers)
        assert again.status_code == 409  # level 2's own criteria start from zero
        detail = client.get(f"/v1/me/enrollments/{WHOLE_LEG}", headers=member.headers).json()
        assert detail["current_stage"]["position"] == 2

    def test_advancing_past_the_last_stage_completes_the_program(
        self, client: TestClient, member: Person, set_stage_age: Backdate
    ) -> None:
        enroll(client, member, GAIT)
        for stage in (1, 2):
            self._meet_stage(client, member, set_stage_age, stage, program=GAIT)
            response = client.post(f"/v1/me/enrollments/{GAIT}/advance", headers=member.headers)
            assert response.status_code == 200, response.text
        body = response.json()
        assert body["completed_at"] is not None
        assert body["current_stage"]["position"] == 2
        assert body["evaluation"] is None
        assert body["history"][-1]["reason"] == "completed"
        done = client.post(f"/v1/me/enrollments/{GAIT}/advance", headers=member.headers)
        assert done.status_code == 409

    def test_advancing_an_unknown_or_foreign_enrollment_is_404(
        self, client: TestClient, member: Person
    ) -> None:
        assert (
            client.post(f"/v1/me/enrollments/{GAIT}/advance", headers=member.headers).status_code
            == 404
        )
        assert (
            client.post("/v1/me/enrollments/nope/advance", headers=member.headers).status_code
            == 404
        )

    @staticmethod
    def _meet_stage(
        client: TestClient,
        member: Person,
        set_stage_age: Backdate,
        stage: int,
        program: str = WHOLE_LEG,
    ) -> None:
        slugs = stage_slugs(client, program, stage)
        for _ in range(10):
            assert log(client, member, session_body(program, stage, slugs)).status_code == 201
        set_stage_age(member, program, 15)


def test_seed_report_is_not_reused_between_tests(seeded: ContentReport) -> None:
    assert seeded.changed
