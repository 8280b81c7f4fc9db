"""Sessions logged at the same moment are written as one group (one transaction).

On PostgreSQL the group runs in lockstep (every write's look-ups in one round trip,
then every write's rows); a write that cannot finish that way must end exactly as
it would alone. These send the writes as concurrent requests do (`submit_together`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from psycopg import pq
from sqlalchemy import event, func
from sqlmodel import col, select

from app.catalog.snapshot import ProgramEntry
from app.core.db import Database
from app.core.errors import NotFoundError
from app.core.group_commit import run_through
from app.progress.models import ExerciseRating, SessionEntry, SessionLog, SessionSequence
from app.progress.sessions import write
from app.progress.sessions.checks import NotEnrolledError
from tests.conftest import Person, PersonFactory
from tests.progress.conftest import PutSession
from tests.progress.tiny import NOW, STAGES, body, enroll
from tests.together import submit_together

Outcome = write.Outcome


@pytest.fixture
def people(make_person: PersonFactory, database: Database, tiny: ProgramEntry) -> list[Person]:
    """Three members following the tiny program, in the order of their ids."""
    members = sorted((make_person() for _ in range(3)), key=lambda person: person.id)
    for person in members:
        enroll(database, person, tiny)
    return members


def stored_session(database: Database, put: PutSession, member: Person) -> uuid.UUID:
    """A session the member logged before the group (its change number is 1)."""
    session_id = uuid.uuid4()
    with database.write_session() as session:
        run_through(put(member, session_id)(session))
    return session_id


def outcomes_of(results: list[Any]) -> list[Any]:
    return [r.outcome if isinstance(r, write.Written) else type(r) for r in results]


def change_numbers(database: Database, person: Person) -> list[int]:
    with database.read_session() as session:
        return sorted(
            session.exec(select(SessionLog.seq).where(SessionLog.user_id == person.id)).all()
        )


def last_change_number(database: Database, person: Person) -> int | None:
    with database.read_session() as session:
        return session.exec(
            select(SessionSequence.last_seq).where(SessionSequence.user_id == person.id)
        ).first()


def entry_count(database: Database, session_id: uuid.UUID) -> int:
    with database.read_session() as session:
        return session.exec(
            select(func.count())
            .select_from(SessionEntry)
            .where(SessionEntry.session_id == str(session_id))
        ).one()


def test_new_sessions_of_several_people_are_committed_once_each_in_order(
    database: Database, people: list[Person], put: PutSession, commits: list[int]
) -> None:
    writes = [(person, uuid.uuid4()) for person in people for _ in range(2)]

    results = submit_together(
        database, [put(p, s) for p, s in writes], orders=[p.id for p, _ in writes]
    )

    assert outcomes_of(results) == [Outcome.CREATED] * 6
    assert len(commits) == 1
    for person in people:
        assert change_numbers(database, person) == [1, 2]  # contiguous, as one by one
        assert last_change_number(database, person) == 2
    for _, session_id in writes:
        assert entry_count(database, session_id) == len(STAGES[0])
    with database.read_session() as session:
        rated = session.exec(select(ExerciseRating.user_id)).all()
    assert sorted(rated) == sorted(p.id for p in people for _ in STAGES[0])


def test_one_uuid_twice_in_a_group_is_created_once_then_found_unchanged(
    database: Database, people: list[Person], put: PutSession
) -> None:
    """The second copy's look-up ran before the first was inserted: it must not add a
    second change number, a second set of entries or a replacement."""
    member, session_id = people[0], uuid.uuid4()

    results = submit_together(database, [put(member, session_id)] * 2, orders=[member.id] * 2)

    assert outcomes_of(results) == [Outcome.CREATED, Outcome.UNCHANGED]
    assert change_numbers(database, member) == [1]
    assert last_change_number(database, member) == 1
    assert entry_count(database, session_id) == len(STAGES[0])


def test_a_replay_among_new_sessions_is_answered_unchanged(
    database: Database, people: list[Person], put: PutSession
) -> None:
    member = people[0]
    stored = stored_session(database, put, member)
    first, second = uuid.uuid4(), uuid.uuid4()

    results = submit_together(
        database,
        [put(member, first), put(member, stored), put(member, second)],
        orders=[member.id] * 3,
    )

    assert outcomes_of(results) == [Outcome.CREATED, Outcome.UNCHANGED, Outcome.CREATED]
    assert change_numbers(database, member) == [1, 2, 3]
    assert entry_count(database, stored) == len(STAGES[0])


def test_a_replacement_among_new_sessions_takes_the_next_change_number(
    database: Database, people: list[Person], put: PutSession
) -> None:
    member = people[0]
    stored = stored_session(database, put, member)

    results = submit_together(
        database,
        [put(member, uuid.uuid4()), put(member, stored, body(difficulty="hard"))],
        orders=[member.id] * 2,
    )

    assert outcomes_of(results) == [Outcome.CREATED, Outcome.REPLACED]
    assert change_numbers(database, member) == [2, 3]
    with database.read_session() as session:
        difficulties = session.exec(
            select(SessionEntry.difficulty).where(SessionEntry.session_id == str(stored))
        ).all()
    assert set(difficulties) == {"hard"}


def ratings_of(database: Database, person: Person) -> set[tuple[str, str]]:
    """The person's kept ratings, as (difficulty, session id)."""
    with database.read_session() as session:
        rows = session.exec(
            select(ExerciseRating.difficulty, ExerciseRating.session_id).where(
                ExerciseRating.user_id == person.id
            )
        ).all()
    return set(rows)


def test_a_groups_ratings_are_those_of_its_latest_session_the_last_of_a_tie(
    database: Database, people: list[Person], put: PutSession
) -> None:
    """As one by one: each session's ratings replace those dated earlier or at the same
    time, so of the sessions dated latest the last one's stand."""
    member = people[0]
    hour = timedelta(hours=1)
    sent = [
        (uuid.uuid4(), body(performed_at=NOW - 3 * hour, difficulty="easy")),
        (uuid.uuid4(), body(performed_at=NOW - hour, difficulty="hard")),
        (uuid.uuid4(), body(performed_at=NOW - 2 * hour, difficulty="easy")),
        (uuid.uuid4(), body(performed_at=NOW - hour, difficulty="moderate")),
    ]

    submit_together(database, [put(member, s, b) for s, b in sent], orders=[member.id] * 4)

    assert ratings_of(database, member) == {("moderate", str(sent[3][0]))}


def test_a_group_dated_before_the_kept_rating_leaves_it(
    database: Database, people: list[Person], put: PutSession
) -> None:
    member = people[0]
    later = uuid.uuid4()
    with database.write_session() as session:
        run_through(put(member, later, body(performed_at=NOW, difficulty="hard"))(session))
    earlier = [body(performed_at=NOW - timedelta(hours=h), difficulty="easy") for h in (1, 2)]

    submit_together(
        database, [put(member, uuid.uuid4(), b) for b in earlier], orders=[member.id] * 2
    )

    assert ratings_of(database, member) == {("hard", str(later))}


def test_a_refused_session_in_a_group_stores_nothing_and_the_others_land(
    database: Database, people: list[Person], put: PutSession, make_person: PersonFactory
) -> None:
    stranger = make_person()  # follows no program
    member = people[0]
    refused = uuid.uuid4()

    results = submit_together(
        database,
        [put(member, uuid.uuid4()), put(stranger, refused), put(member, uuid.uuid4())],
        orders=[member.id, stranger.id, member.id],
    )

    assert outcomes_of(results) == [Outcome.CREATED, NotEnrolledError, Outcome.CREATED]
    assert change_numbers(database, member) == [1, 2]
    assert change_numbers(database, stranger) == []
    assert not last_change_number(database, stranger)  # no change number was taken
    assert entry_count(database, refused) == 0


def test_another_persons_uuid_in_the_same_group_is_not_found_and_changes_nothing(
    database: Database, people: list[Person], put: PutSession
) -> None:
    """Both look-ups find the UUID free; the first person's insert wins, and the second
    person's rows, sent before that was known, must not stay."""
    owner, other = people[0], people[1]
    session_id = uuid.uuid4()

    results = submit_together(
        database,
        [put(owner, session_id), put(other, session_id), put(other, uuid.uuid4())],
        orders=[owner.id, other.id, other.id],
    )

    assert outcomes_of(results) == [Outcome.CREATED, NotFoundError, Outcome.CREATED]
    assert change_numbers(database, other) == [1]  # the refused write's number was undone
    assert last_change_number(database, other) == 1
    with database.read_session() as session:
        rows = session.exec(
            select(SessionEntry.user_id).where(col(SessionEntry.session_id) == str(session_id))
        ).all()
        ratings = session.exec(
            select(ExerciseRating.session_id).where(ExerciseRating.user_id == other.id)
        ).all()
    assert set(rows) == {owner.id}
    assert len(rows) == len(STAGES[0])
    assert str(session_id) not in ratings


@pytest.fixture
def waits(database: Database, tmp_path: Path) -> Iterator[Callable[[], int]]:
    """How many times the group's connection waited on the server: the Syncs, Flushes and
    simple Queries it sent, read from libpq's own protocol trace (PostgreSQL only)."""
    if database.is_sqlite:
        pytest.skip("round trips are PostgreSQL's: SQLite is in the process")
    trace = tmp_path / "protocol.trace"
    trace.touch()
    files: list[IO[str]] = []

    def traced(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        files.append(trace.open("a"))
        dbapi_connection.pgconn.trace(files[-1].fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def untraced(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.pgconn.untrace()

    def count() -> int:
        """So far, on connections given back to the pool (which flushes their trace)."""
        sent = [
            fields[2]
            for fields in (line.split("\t") for line in trace.read_text().splitlines())
            if fields[0] == "F"
        ]
        # A Flush right after a Sync asks for nothing the Sync did not already ask for.
        return sum(
            1
            for before, message in zip(["", *sent], sent, strict=False)
            if message in {"Sync", "Query"} or (message == "Flush" and before != "Sync")
        )

    event.listen(database.engine, "checkout", traced)
    event.listen(database.engine, "checkin", untraced)
    yield count
    event.remove(database.engine, "checkout", traced)
    event.remove(database.engine, "checkin", untraced)
    for file in files:
        file.close()


def test_a_group_of_new_sessions_waits_on_the_server_no_more_often_than_one_session(
    database: Database, people: list[Person], put: PutSession, waits: Callable[[], int]
) -> None:
    """A group's round trips do not grow with it. One session alone: BEGIN, one for each
    look-up it reads (the stage reached, the UUID's owner, the clinics listening), the end
    of that batch, the numbered insert, the end of that batch, and COMMIT; a group sends
    each of its statements for all its sessions at once, so it may wait even less."""
    by_size = {}
    for size in (1, 6):
        writes = [(people[n % 3], uuid.uuid4()) for n in range(size)]
        before = waits()
        results = submit_together(
            database, [put(p, s) for p, s in writes], orders=[p.id for p, _ in writes]
        )
        assert outcomes_of(results) == [Outcome.CREATED] * size
        by_size[size] = waits() - before
    assert by_size[6] <= by_size[1] <= 8
