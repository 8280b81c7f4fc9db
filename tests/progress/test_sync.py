"""Offline devices: batch sync item by item, the change feed with its cursor, and ownership."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.progress.schemas import MAX_SYNC_BATCH
from tests.conftest import Person, PersonFactory
from tests.progress.conftest import enroll, log, now, session_body, stage_slugs

pytestmark = pytest.mark.usefixtures("seeded")
WHOLE_LEG = "whole-leg-rehabilitation"
GAIT = "running-gait-retraining"
PROBLEM = "application/problem+json"
DAY = timedelta(days=1)


def new_id() -> str:
    return str(uuid.uuid4())


def put(client: TestClient, person: Person, session_id: str, body: dict[str, Any]) -> None:
    response = log(client, person, body, session_id)
    assert response.status_code in (200, 201), response.text


def get(client: TestClient, person: Person, session_id: str) -> Any:
    return client.get(f"/v1/me/sessions/{session_id}", headers=person.headers)


def sync(client: TestClient, person: Person, items: list[dict[str, Any]]) -> Any:
    return client.post("/v1/me/sessions/sync", headers=person.headers, json={"sessions": items})


def feed(client: TestClient, person: Person, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/me/sessions", headers=person.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-cache"
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


@pytest.fixture
def stage1(client: TestClient) -> list[str]:
    return stage_slugs(client, WHOLE_LEG, 1)


@pytest.fixture
def other(make_person: PersonFactory, client: TestClient) -> Person:
    """Someone else, enrolled in the same program."""
    person = make_person()
    enroll(client, person, WHOLE_LEG)
    return person


@pytest.fixture
def enrolled(client: TestClient, member: Person) -> Person:
    enroll(client, member, WHOLE_LEG)
    return member


# ---------------------------------------------------------------------------
# Batch sync


class TestSyncBatch:
    def test_each_item_gets_its_own_status_and_only_the_valid_ones_are_written(
        self,
        client: TestClient,
        enrolled: Person,
        other: Person,
        stage1: list[str],
    ) -> None:
        others_id = new_id()
        put(client, other, others_id, session_body(WHOLE_LEG, 1, stage1[:2]))
        others_before = get(client, other, others_id).json()

        replayed, changed = new_id(), new_id()
        replayed_body = session_body(WHOLE_LEG, 1, stage1[:3], performed_at=now() - DAY)
        changed_body = session_body(WHOLE_LEG, 1, stage1[:3], performed_at=now() - 2 * DAY)
        put(client, enrolled, replayed, replayed_body)
        put(client, enrolled, changed, changed_body)
        replayed_before = get(client, enrolled, replayed).json()

        fresh, outside, future, unknown_field = new_id(), new_id(), new_id(), new_id()
        stage2_only = next(s for s in stage_slugs(client, WHOLE_LEG, 2) if s not in stage1)
        items = [
            {"id": fresh, **session_body(WHOLE_LEG, 1, stage1)},
            {"id": replayed, **replayed_body},
            {"id": changed, **session_body(WHOLE_LEG, 1, stage1[:3], difficulty="moderate")},
            {"id": outside, **session_body(WHOLE_LEG, 1, [stage1[0], stage2_only])},
            {"id": future, **session_body(WHOLE_LEG, 1, stage1, performed_at=now() + DAY)},
            {"id": unknown_field, "mood": "great", **session_body(WHOLE_LEG, 1, stage1)},
            {"id": "not-a-uuid", **session_body(WHOLE_LEG, 1, stage1)},
            {"id": others_id, **session_body(WHOLE_LEG, 1, stage1)},
        ]

        response = sync(client, enrolled, items)

        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [(r["id"], r["status"]) for r in results] == [
            (fresh, "created"),
            (replayed, "unchanged"),
            (changed, "replaced"),
            (outside, "rejected"),
            (future, "rejected"),
            (unknown_field, "rejected"),
            ("not-a-uuid", "rejected"),
            (others_id, "rejected"),
        ]
        for result in results[:3]:
            assert result["detail"] is None
            assert result["errors"] is None
        by_id = {r["id"]: r for r in results}
        assert [e["pointer"] for e in by_id[outside]["errors"]] == [
            "/sessions/3/entries/1/exercise"
        ]
        assert stage2_only in by_id[outside]["detail"]
        assert [e["pointer"] for e in by_id[future]["errors"]] == ["/sessions/4/performed_at"]
        assert [e["pointer"] for e in by_id[unknown_field]["errors"]] == ["/sessions/5/mood"]
        assert [e["pointer"] for e in by_id["not-a-uuid"]["errors"]] == ["/sessions/6/id"]
        # Someone else's UUID is "no such session", and says nothing more.
        assert by_id[others_id]["detail"] == "No such session."

        # The valid ones are written ...
        assert [e["exercise"] for e in get(client, enrolled, fresh).json()["entries"]] == stage1
        assert get(client, enrolled, replayed).json() == replayed_before
        assert {e["difficulty"] for e in get(client, enrolled, changed).json()["entries"]} == {
            "moderate"
        }
        # ... the rejected ones are not, and the other person's session is untouched.
        for rejected in (outside, future, unknown_field, others_id):
            assert get(client, enrolled, rejected).status_code == 404
        assert get(client, other, others_id).json() == others_before
        assert sorted(ids(feed(client, enrolled))) == sorted([replayed, changed, fresh])
        assert ids(feed(client, other)) == [others_id]

    def test_a_replay_of_the_same_instant_in_another_offset_is_unchanged(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        session_id = new_id()
        moment = now().replace(microsecond=0) - DAY
        put(client, enrolled, session_id, session_body(WHOLE_LEG, 1, stage1, performed_at=moment))
        elsewhere = moment.astimezone(timezone(timedelta(hours=-7)))
        item = {"id": session_id, **session_body(WHOLE_LEG, 1, stage1, performed_at=elsewhere)}

        results = sync(client, enrolled, [item]).json()["results"]

        assert [r["status"] for r in results] == ["unchanged"]

    def test_a_replayed_batch_changes_nothing(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        items = [{"id": new_id(), **session_body(WHOLE_LEG, 1, stage1)} for _ in range(3)]
        first = sync(client, enrolled, items).json()["results"]
        cursor = feed(client, enrolled)["next_cursor"]

        again = sync(client, enrolled, items).json()["results"]

        assert [r["status"] for r in first] == ["created"] * 3
        assert [r["status"] for r in again] == ["unchanged"] * 3
        assert feed(client, enrolled, since=cursor)["items"] == []

    def test_more_than_the_batch_limit_is_refused_whole(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        items = [
            {"id": new_id(), **session_body(WHOLE_LEG, 1, stage1)}
            for _ in range(MAX_SYNC_BATCH + 1)
        ]

        response = sync(client, enrolled, items)

        assert response.status_code == 422
        assert response.headers["content-type"].startswith(PROBLEM)
        assert feed(client, enrolled)["items"] == []
        assert get(client, enrolled, items[0]["id"]).status_code == 404

    def test_exactly_the_batch_limit_is_accepted(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        items = [
            {"id": new_id(), **session_body(WHOLE_LEG, 1, stage1[:1])}
            for _ in range(MAX_SYNC_BATCH)
        ]

        response = sync(client, enrolled, items)

        assert response.status_code == 200, response.text
        assert {r["status"] for r in response.json()["results"]} == {"created"}
        assert len(feed(client, enrolled)["items"]) == MAX_SYNC_BATCH

    def test_an_empty_batch_is_refused(self, client: TestClient, enrolled: Person) -> None:
        response = sync(client, enrolled, [])

        assert response.status_code == 422
        assert response.headers["content-type"].startswith(PROBLEM)

    @pytest.mark.parametrize("method", ["PUT", "GET", "DELETE", "PATCH"])
    def test_another_method_on_the_sync_path_is_a_405_naming_post(
        self, client: TestClient, enrolled: Person, method: str
    ) -> None:
        """`sync` is never taken for a session id: the path belongs to the batch route."""
        response = client.request(method, "/v1/me/sessions/sync", headers=enrolled.headers)

        assert response.status_code == 405, response.text
        assert response.headers["allow"] == "POST"
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "/problems/method-not-allowed"

    @pytest.mark.parametrize("spelling", [str.upper, lambda text: text.replace("-", "")])
    def test_a_session_id_is_read_in_any_case_with_or_without_hyphens(
        self,
        client: TestClient,
        enrolled: Person,
        stage1: list[str],
        spelling: Any,
    ) -> None:
        session_id = new_id()
        put(client, enrolled, session_id, session_body(WHOLE_LEG, 1, stage1))

        response = get(client, enrolled, spelling(session_id))

        assert response.status_code == 200, response.text
        assert response.json()["id"] == session_id


# ---------------------------------------------------------------------------
# The change feed


class TestChangeFeed:
    def test_the_first_call_returns_everything_in_change_order(
        self,
        client: TestClient,
        enrolled: Person,
        other: Person,
        stage1: list[str],
    ) -> None:
        put(client, other, new_id(), session_body(WHOLE_LEG, 1, stage1))
        first, second, third = new_id(), new_id(), new_id()
        for session_id in (first, second, third):
            put(client, enrolled, session_id, session_body(WHOLE_LEG, 1, stage1[:2]))
        # Changing the first moves it to the end: the feed follows changes, not creation.
        put(client, enrolled, first, session_body(WHOLE_LEG, 1, stage1[:2], pain=2))

        page = feed(client, enrolled)

        assert ids(page) == [second, third, first]
        assert page["has_more"] is False
        assert page["next_cursor"]
        latest = page["items"][-1]
        assert latest["deleted"] is False
        assert latest["program"] == WHOLE_LEG
        assert [e["pain"] for e in latest["entries"]] == [2, 2]

    def test_a_second_device_sees_only_later_changes_including_deletions(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        kept, doomed = new_id(), new_id()
        put(client, enrolled, kept, session_body(WHOLE_LEG, 1, stage1))
        put(client, enrolled, doomed, session_body(WHOLE_LEG, 1, stage1))
        cursor = feed(client, enrolled)["next_cursor"]

        later = new_id()
        assert (
            client.delete(f"/v1/me/sessions/{doomed}", headers=enrolled.headers).status_code == 204
        )
        put(client, enrolled, later, session_body(WHOLE_LEG, 1, stage1))
        page = feed(client, enrolled, since=cursor)

        assert ids(page) == [doomed, later]
        tombstone = page["items"][0]
        assert set(tombstone) == {"id", "deleted", "deleted_at"}
        assert tombstone["deleted"] is True
        assert page["items"][1]["deleted"] is False
        # Caught up: the new cursor yields nothing, and stays where it is.
        caught_up = feed(client, enrolled, since=page["next_cursor"])
        assert caught_up["items"] == []
        assert caught_up["has_more"] is False
        assert caught_up["next_cursor"] == page["next_cursor"]
        # A device that never synced sees the deletion too, in its place.
        assert ids(feed(client, enrolled)) == [kept, doomed, later]

    def test_paging_with_limit_walks_every_change_once(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        logged = [new_id() for _ in range(5)]
        for session_id in logged:
            put(client, enrolled, session_id, session_body(WHOLE_LEG, 1, stage1[:1]))

        seen: list[str] = []
        more: list[bool] = []
        cursor: str | None = None
        for _ in range(10):
            params: dict[str, Any] = {"limit": 2}
            if cursor is not None:
                params["since"] = cursor
            page = feed(client, enrolled, **params)
            seen += ids(page)
            more.append(page["has_more"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break

        assert seen == logged
        assert more == [True, True, False]

    def test_a_full_last_page_says_there_is_no_more(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        for _ in range(2):
            put(client, enrolled, new_id(), session_body(WHOLE_LEG, 1, stage1[:1]))

        page = feed(client, enrolled, limit=2)

        assert len(page["items"]) == 2
        assert page["has_more"] is False

    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage!!",
            "not a cursor",
            base64.urlsafe_b64encode(b"s2:5").decode().rstrip("="),
            base64.urlsafe_b64encode(b"s1:five").decode().rstrip("="),
            base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),
        ],
    )
    def test_a_garbage_cursor_is_a_422_problem(
        self, client: TestClient, enrolled: Person, cursor: str
    ) -> None:
        response = client.get("/v1/me/sessions", headers=enrolled.headers, params={"since": cursor})

        assert response.status_code == 422
        assert response.headers["content-type"].startswith(PROBLEM)
        assert [e["parameter"] for e in response.json()["errors"]] == ["since"]

    def test_the_program_filter_keeps_only_that_programs_sessions(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        enroll(client, enrolled, GAIT)
        gait_stage1 = stage_slugs(client, GAIT, 1)
        leg, gait = new_id(), new_id()
        put(client, enrolled, leg, session_body(WHOLE_LEG, 1, stage1[:1]))
        put(client, enrolled, gait, session_body(GAIT, 1, gait_stage1[:1]))

        assert ids(feed(client, enrolled, program=GAIT)) == [gait]
        assert ids(feed(client, enrolled, program=WHOLE_LEG)) == [leg]
        assert ids(feed(client, enrolled)) == [leg, gait]
        unknown = client.get(
            "/v1/me/sessions", headers=enrolled.headers, params={"program": "no-such-program"}
        )
        assert unknown.status_code == 404


# ---------------------------------------------------------------------------
# One person's session is invisible to everyone else


class TestOwnership:
    @pytest.fixture
    def owned(self, client: TestClient, other: Person, stage1: list[str]) -> tuple[str, Any]:
        session_id = new_id()
        put(client, other, session_id, session_body(WHOLE_LEG, 1, stage1))
        return session_id, get(client, other, session_id).json()

    def test_putting_someone_elses_uuid_is_404_and_changes_nothing(
        self,
        client: TestClient,
        enrolled: Person,
        other: Person,
        owned: tuple[str, Any],
        stage1: list[str],
    ) -> None:
        session_id, before = owned

        response = log(client, enrolled, session_body(WHOLE_LEG, 1, stage1[:1], pain=3), session_id)

        assert response.status_code == 404
        assert get(client, other, session_id).json() == before
        assert feed(client, enrolled)["items"] == []

    def test_deleting_someone_elses_session_is_404_and_keeps_it(
        self, client: TestClient, enrolled: Person, other: Person, owned: tuple[str, Any]
    ) -> None:
        session_id, before = owned

        response = client.delete(f"/v1/me/sessions/{session_id}", headers=enrolled.headers)

        assert response.status_code == 404
        assert get(client, other, session_id).json() == before
        assert ids(feed(client, other)) == [session_id]

    def test_reading_someone_elses_session_is_404(
        self, client: TestClient, enrolled: Person, owned: tuple[str, Any]
    ) -> None:
        session_id, _ = owned

        assert get(client, enrolled, session_id).status_code == 404

    def test_deleting_twice_succeeds_twice_and_records_one_change(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        session_id = new_id()
        put(client, enrolled, session_id, session_body(WHOLE_LEG, 1, stage1))
        path = f"/v1/me/sessions/{session_id}"

        assert client.delete(path, headers=enrolled.headers).status_code == 204
        cursor = feed(client, enrolled)["next_cursor"]
        assert client.delete(path, headers=enrolled.headers).status_code == 204

        assert get(client, enrolled, session_id).status_code == 404
        assert feed(client, enrolled, since=cursor)["items"] == []

    def test_deleting_a_session_that_never_existed_is_404(
        self, client: TestClient, enrolled: Person
    ) -> None:
        response = client.delete(f"/v1/me/sessions/{new_id()}", headers=enrolled.headers)

        assert response.status_code == 404

    def test_a_put_after_a_delete_brings_the_session_back(
        self, client: TestClient, enrolled: Person, stage1: list[str]
    ) -> None:
        session_id = new_id()
        body = session_body(WHOLE_LEG, 1, stage1)
        put(client, enrolled, session_id, body)
        client.delete(f"/v1/me/sessions/{session_id}", headers=enrolled.headers)
        cursor = feed(client, enrolled)["next_cursor"]

        response = log(client, enrolled, body, session_id)

        assert response.status_code == 201
        assert response.headers["location"] == f"/v1/me/sessions/{session_id}"
        assert [e["exercise"] for e in get(client, enrolled, session_id).json()["entries"]] == (
            stage1
        )
        back = feed(client, enrolled, since=cursor)["items"]
        assert [(item["id"], item["deleted"]) for item in back] == [(session_id, False)]
