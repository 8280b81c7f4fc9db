"""PUT /v1/me/sessions/{id}: created, replayed, replaced, and every rejection changing nothing."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from app.core.db import Database
from app.core.driver import Pending
from app.progress.models import ExerciseRating, SessionEntry, SessionLog
from app.progress.sessions.statements import LookedUp, Writing, look_up
from tests.conftest import Person, PersonFactory
from tests.progress.conftest import Backdate, enroll, log, now, session_body, stage_slugs

pytestmark = pytest.mark.usefixtures("seeded")
PROGRAM = "whole-leg-rehabilitation"


@pytest.fixture
def enrolled(client: TestClient, member: Person) -> Person:
    enroll(client, member, PROGRAM)
    return member


def counts(database: Database) -> tuple[int, int]:
    with database.read_session() as session:
        logs = session.exec(select(func.count()).select_from(SessionLog)).one()
        entries = session.exec(select(func.count()).select_from(SessionEntry)).one()
    return logs, entries


def level(client: TestClient, position: int) -> list[str]:
    return stage_slugs(client, PROGRAM, position)


def test_a_new_session_is_201_with_location_and_its_entries(
    client: TestClient, enrolled: Person
) -> None:
    session_id = str(uuid.uuid4())
    body = session_body(PROGRAM, 1, level(client, 1)[:2], pain=2)
    response = log(client, enrolled, body, session_id)
    assert response.status_code == 201
    assert response.headers["location"] == f"/v1/me/sessions/{session_id}"
    stored = response.json()
    assert stored["id"] == session_id
    assert [e["exercise"] for e in stored["entries"]] == level(client, 1)[:2]
    assert stored["entries"][0]["pain"] == 2
    fetched = client.get(f"/v1/me/sessions/{session_id}", headers=enrolled.headers)
    assert fetched.json() == stored


def test_a_replay_returns_the_stored_result_and_writes_nothing(
    client: TestClient, enrolled: Person, database: Database
) -> None:
    session_id = str(uuid.uuid4())
    body = session_body(PROGRAM, 1, level(client, 1)[:2])
    first = log(client, enrolled, body, session_id)
    before = counts(database)
    replay = log(client, enrolled, body, session_id)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert counts(database) == before


def test_the_same_owner_replaces_a_session(client: TestClient, enrolled: Person) -> None:
    session_id = str(uuid.uuid4())
    log(client, enrolled, session_body(PROGRAM, 1, level(client, 1)[:2]), session_id)
    changed = session_body(PROGRAM, 1, level(client, 1)[:1], difficulty="hard", pain=3)
    response = log(client, enrolled, changed, session_id)
    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [(e["exercise"], e["difficulty"], e["pain"]) for e in entries] == [
        (level(client, 1)[0], "hard", 3)
    ]


def test_another_persons_uuid_is_404_and_changes_nothing(
    client: TestClient, make_person: PersonFactory
) -> None:
    owner, intruder = make_person(), make_person()
    enroll(client, owner, PROGRAM)
    enroll(client, intruder, PROGRAM)
    session_id = str(uuid.uuid4())
    original = log(client, owner, session_body(PROGRAM, 1, level(client, 1)[:2]), session_id).json()
    attempt = log(client, intruder, session_body(PROGRAM, 1, level(client, 1)[:1]), session_id)
    assert attempt.status_code == 404
    assert client.get(f"/v1/me/sessions/{session_id}", headers=owner.headers).json() == original
    assert client.get(f"/v1/me/sessions/{session_id}", headers=intruder.headers).status_code == 404
    deleting = client.delete(f"/v1/me/sessions/{session_id}", headers=intruder.headers)
    assert deleting.status_code == 404


class _Nobody:
    """A look-up's answer that the UUID is nobody's yet."""

    def scalar(self) -> None:
        return None


def test_a_uuid_another_person_takes_between_look_up_and_insert_is_404_and_changes_nothing(
    client: TestClient,
    make_person: PersonFactory,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The insert is sent before its answer is known: when the UUID turns out taken, the
    entries, ratings and change number sent with it must not land anywhere."""
    owner, intruder = make_person(), make_person()
    enroll(client, owner, PROGRAM)
    enroll(client, intruder, PROGRAM)
    session_id = str(uuid.uuid4())
    original = log(client, owner, session_body(PROGRAM, 1, level(client, 1)[:2]), session_id).json()

    def too_early(writing: Writing, **where: Any) -> LookedUp:
        found = look_up(writing, **where)
        found.owner.scalar()  # read and closed; this write is told nobody has it yet
        return replace(found, owner=cast(Pending, _Nobody()))

    monkeypatch.setattr("app.progress.sessions.write.look_up", too_early)
    attempt = log(client, intruder, session_body(PROGRAM, 1, level(client, 1)[:1]), session_id)
    assert attempt.status_code == 404
    monkeypatch.undo()
    assert client.get(f"/v1/me/sessions/{session_id}", headers=owner.headers).json() == original
    with database.read_session() as session:
        assert session.exec(
            select(func.count()).where(col(SessionEntry.session_id) == session_id)
        ).one() == len(original["entries"])
        assert not session.exec(
            select(ExerciseRating).where(col(ExerciseRating.user_id) == intruder.id)
        ).all()
    # The change number the attempt took went back: the intruder's next session is number 1.
    assert log(client, intruder, session_body(PROGRAM, 1, level(client, 1)[:1])).status_code == 201
    with database.read_session() as session:
        seqs = session.exec(
            select(SessionLog.seq).where(col(SessionLog.user_id) == intruder.id)
        ).all()
    assert seqs == [1]


def test_exercises_of_earlier_stages_may_be_logged_at_a_later_stage(
    client: TestClient, enrolled: Person, database: Database
) -> None:
    from sqlalchemy import update
    from sqlmodel import col

    from app.progress.models import Enrollment

    with database.write_session() as session:
        session.execute(
            update(Enrollment).where(col(Enrollment.user_id) == enrolled.id).values(current_stage=2)
        )
    body = session_body(PROGRAM, 2, [level(client, 2)[0], level(client, 1)[0]])
    assert log(client, enrolled, body).status_code == 201


REJECTIONS: list[tuple[str, Any, str]] = [
    (
        "exercise from a later stage",
        lambda c, b: b["entries"][0].update(exercise=level(c, 2)[0]),
        "/entries/0/exercise",
    ),
    (
        "exercise of another program",
        lambda c, b: b["entries"][0].update(exercise="modified-pigeon-stretch"),
        "/entries/0/exercise",
    ),
    (
        "unknown exercise",
        lambda c, b: b["entries"][0].update(exercise="moon-walk"),
        "/entries/0/exercise",
    ),
    ("unknown program", lambda c, b: b.update(program="nope"), "/program"),
    (
        "performed in the future",
        lambda c, b: b.update(performed_at=(now() + timedelta(hours=1)).isoformat()),
        "/performed_at",
    ),
    (
        "time without a zone",
        lambda c, b: b.update(performed_at="2026-11-20T10:00:00"),
        "/performed_at",
    ),
    ("unknown field", lambda c, b: b.update(mood="great"), "/mood"),
    (
        "unknown entry field",
        lambda c, b: b["entries"][0].update(calories=5),
        "/entries/0/calories",
    ),
    ("pain above 10", lambda c, b: b["entries"][0].update(pain=11), "/entries/0/pain"),
    ("negative pain", lambda c, b: b["entries"][0].update(pain=-1), "/entries/0/pain"),
    ("pain as a boolean", lambda c, b: b["entries"][0].update(pain=True), "/entries/0/pain"),
    ("pain as a string", lambda c, b: b["entries"][0].update(pain="3"), "/entries/0/pain"),
    (
        "unknown rating",
        lambda c, b: b["entries"][0].update(difficulty="trivial"),
        "/entries/0/difficulty",
    ),
    ("the same exercise twice", lambda c, b: b["entries"].append(dict(b["entries"][0])), ""),
    ("no entries", lambda c, b: b.update(entries=[]), "/entries"),
    ("51 entries", lambda c, b: b.update(entries=b["entries"] * 26), "/entries"),
    (
        "sets as a float",
        lambda c, b: b["entries"][0].update(sets_done=2.5),
        "/entries/0/sets_done",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "pointer"), [(m, p) for _, m, p in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_invalid_sessions_are_422_and_write_nothing(
    client: TestClient, enrolled: Person, database: Database, mutation: Any, pointer: str
) -> None:
    body = session_body(PROGRAM, 1, level(client, 1)[:2])
    mutation(client, body)
    before = counts(database)
    response = log(client, enrolled, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    pointers = [error["pointer"] for error in response.json()["errors"]]
    assert any(p.startswith(pointer) for p in pointers), pointers
    assert counts(database) == before


@pytest.mark.parametrize(
    ("mutation", "problem_type", "pointer"),
    [
        (lambda b: b.update(program="tight-hip-stretches"), "/problems/not-enrolled", "program"),
        (lambda b: b.update(stage=2), "/problems/stage-not-reached", "stage"),
    ],
    ids=["program not enrolled in", "stage ahead of the person"],
)
def test_a_well_formed_session_the_persons_standing_refuses_is_a_409_conflict(
    client: TestClient,
    enrolled: Person,
    database: Database,
    mutation: Any,
    problem_type: str,
    pointer: str,
) -> None:
    body = session_body(PROGRAM, 1, level(client, 1)[:2])
    mutation(body)
    before = counts(database)

    response = log(client, enrolled, body)

    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"] == problem_type
    assert [error["pointer"] for error in problem["errors"]] == [f"/{pointer}"]
    assert counts(database) == before


def test_a_session_id_must_be_a_uuid(client: TestClient, enrolled: Person) -> None:
    response = client.put(
        "/v1/me/sessions/not-a-uuid",
        headers=enrolled.headers,
        json=session_body(PROGRAM, 1, level(client, 1)[:1]),
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["in"], error["parameter"]) == ("path", "session_id")


def test_sessions_need_a_sign_in(client: TestClient) -> None:
    response = client.put(
        f"/v1/me/sessions/{uuid.uuid4()}", json=session_body(PROGRAM, 1, ["glute-bridge"])
    )
    assert response.status_code == 401


def test_sessions_before_the_stage_began_do_not_count_toward_it(
    client: TestClient, enrolled: Person, set_stage_age: Backdate
) -> None:
    early = session_body(PROGRAM, 1, level(client, 1), performed_at=now() - timedelta(days=2))
    assert log(client, enrolled, early).status_code == 201
    detail = client.get(f"/v1/me/enrollments/{PROGRAM}", headers=enrolled.headers).json()
    sessions = next(c for c in detail["evaluation"]["criteria"] if c["criterion"] == "min_sessions")
    assert sessions["current"] == 0
    set_stage_age(enrolled, PROGRAM, 3)
    detail = client.get(f"/v1/me/enrollments/{PROGRAM}", headers=enrolled.headers).json()
    sessions = next(c for c in detail["evaluation"]["criteria"] if c["criterion"] == "min_sessions")
    assert sessions["current"] == 1


def test_sessions_logged_at_once_all_land_and_a_refused_one_among_them_changes_nothing(
    client: TestClient, enrolled: Person, database: Database
) -> None:
    """Writes that arrive together are committed together: each is still answered as
    its own, and one refused in the middle of them leaves the others stored."""
    exercises = level(client, 1)[:1]
    good = [(str(uuid.uuid4()), session_body(PROGRAM, 1, exercises)) for _ in range(8)]
    ahead = (str(uuid.uuid4()), session_body(PROGRAM, 3, level(client, 3)[:1]))
    sent = [*good[:4], ahead, *good[4:]]
    answers: dict[str, httpx.Response] = {}

    async def put(session_id: str, body: dict[str, Any], http: httpx.AsyncClient) -> None:
        url = f"/v1/me/sessions/{session_id}"
        answers[session_id] = await http.put(url, headers=enrolled.headers, json=body)

    async def all_at_once() -> None:
        transport = httpx.ASGITransport(app=client.app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as http,
            anyio.create_task_group() as group,
        ):
            for session_id, body in sent:
                group.start_soon(put, session_id, body, http)

    anyio.run(all_at_once)

    assert answers[ahead[0]].status_code == 409  # a stage not reached
    for session_id, _ in good:
        assert answers[session_id].status_code == 201, answers[session_id].text
        assert answers[session_id].json()["id"] == session_id
    assert counts(database) == (8, 8)
    feed = client.get("/v1/me/sessions", headers=enrolled.headers).json()
    assert sorted(item["id"] for item in feed["items"]) == sorted(sid for sid, _ in good)
    # Change numbers stay gap-free: the refused write gave its number back.
    with database.read_session() as session:
        seqs = session.exec(select(SessionLog.seq).order_by(col(SessionLog.seq))).all()
    assert list(seqs) == list(range(1, 9))
