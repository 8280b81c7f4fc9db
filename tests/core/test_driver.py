"""Driver statements in a lockstep round (PostgreSQL): the same statement of every write
goes as one executemany, and each write still gets its own answers, in its own order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from psycopg import pq
from sqlalchemy import Integer, String, bindparam, column, literal_column, select, text
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session

from app.core.db import Database
from app.core.driver import DriverStatement, batched, driver_cursor
from app.core.rounds import in_round, unnested


@pytest.fixture
def cursor(database: Database) -> Iterator[DBAPICursor]:
    """A driver cursor in a write transaction on a scratch table (rolled back after)."""
    if database.is_sqlite:
        pytest.skip("rounds are for PostgreSQL's pipeline")
    with Session(database.engine) as session, closing(driver_cursor(session)) as cursor:
        session.execute(text("CREATE TEMPORARY TABLE note (lane int, word text)"))
        yield cursor
        session.rollback()


def statements(
    database: Database, *, at_once: bool = False
) -> tuple[DriverStatement, DriverStatement]:
    """Note a word in a lane; the words of a lane. `at_once`: each with the form a round
    sends once for all its lanes."""
    dialect = database.engine.dialect
    lane, word = column("lane", Integer), column("word", String)
    insert = DriverStatement(
        text("INSERT INTO note (lane, word) VALUES (:lane, :word)").bindparams(
            bindparam("lane"), bindparam("word")
        ),
        dialect,
        at_once=text(
            "INSERT INTO note (lane, word) SELECT p.lane, p.word "  # noqa: S608 (fixed text)
            f"FROM {unnested({'lane': lane, 'word': word}, dialect)} ORDER BY p.ord"
        )
        if at_once
        else None,
    )
    words = DriverStatement(
        select(literal_column("word"))
        .select_from(text("note"))
        .where(literal_column("lane") == bindparam("lane"))
        .order_by(literal_column("word")),
        dialect,
        at_once=text(
            f"SELECT p.ord, note.word FROM {unnested({'lane': lane}, dialect)} "  # noqa: S608
            "JOIN note ON note.lane = p.lane ORDER BY p.ord, note.word"
        )
        if at_once
        else None,
    )
    return insert, words


def test_each_write_of_a_round_reads_its_own_rows_after_its_own_statements(
    database: Database, cursor: DBAPICursor
) -> None:
    insert, words = statements(database)
    with batched(cursor), in_round(cursor) as lanes:
        answers = []
        for lane, written in enumerate([["a"], ["b", "c"], []]):
            lanes.lane = lane
            insert.executemany(cursor, [{"lane": lane, "word": word} for word in written])
            answers.append(words.send(cursor, {"lane": lane}))

    assert [[row[0] for row in answer.all()] for answer in answers] == [["a"], ["b", "c"], []]


def test_a_statement_answered_at_once_comes_after_what_the_round_holds(
    database: Database, cursor: DBAPICursor
) -> None:
    insert, words = statements(database)
    with batched(cursor), in_round(cursor) as lanes:
        insert.execute(cursor, {"lane": 1, "word": "held"})
        now = words.all(cursor, {"lane": 1})
        lanes.lane = 2
        insert.execute(cursor, {"lane": 2, "word": "after"})

    assert now == [("held",)]
    assert words.all(cursor, {"lane": 2}) == [("after",)]


def ticks(database: Database, *, repeatable: bool) -> DriverStatement:
    """The next number of a temporary sequence, with the key it was asked for: how many
    times the server ran it shows in the numbers."""
    return DriverStatement(
        text("SELECT nextval('tick') AS n, CAST(:key AS text) AS key")
        .bindparams(bindparam("key"))
        .columns(column("n", Integer), column("key", String)),
        database.engine.dialect,
        repeatable=repeatable,
    )


@pytest.mark.parametrize(
    ("repeatable", "answers"),
    [
        (True, [(1, "a"), (1, "a"), (2, "b"), (1, "a")]),
        (False, [(1, "a"), (2, "a"), (3, "b"), (4, "a")]),
    ],
    ids=["repeatable-once-a-distinct-set", "otherwise-once-a-lane"],
)
def test_a_repeatable_statement_runs_once_a_round_for_each_distinct_parameter_set(
    database: Database, cursor: DBAPICursor, repeatable: bool, answers: list[tuple[int, str]]
) -> None:
    cursor.execute("CREATE TEMPORARY SEQUENCE tick")
    tick = ticks(database, repeatable=repeatable)
    with in_round(cursor) as lanes:
        sent = []
        for lane, key in enumerate(["a", "a", "b", "a"]):
            lanes.lane = lane
            sent.append(tick.send(cursor, {"key": key}))

    assert [answer.first() for answer in sent] == answers


@contextmanager
def executions(cursor: DBAPICursor, tmp_path: Path) -> Iterator[list[int]]:
    """How many statements the server was asked to execute in the block (libpq's trace)."""
    trace = tmp_path / "protocol.trace"
    counted: list[int] = []
    pgconn = cursor.connection.pgconn
    with trace.open("w") as file:
        pgconn.trace(file.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield counted
        finally:
            pgconn.untrace()  # flushes
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    counted.append(sum(1 for fields in sent if fields[0] == "F" and fields[2] == "Execute"))


def test_a_statement_with_an_at_once_form_runs_once_a_round_for_every_lane(
    database: Database, cursor: DBAPICursor, tmp_path: Path
) -> None:
    insert, words = statements(database, at_once=True)
    with executions(cursor, tmp_path) as executed, in_round(cursor) as lanes:
        answers = []
        for lane, written in enumerate([["a"], ["b", "c"], [], ["d"]]):
            lanes.lane = lane
            insert.executemany(cursor, [{"lane": lane, "word": word} for word in written])
            answers.append(words.send(cursor, {"lane": lane}))

    assert [[row[0] for row in answer.all()] for answer in answers] == [
        ["a"],
        ["b", "c"],
        [],
        ["d"],
    ]
    assert executed == [2]  # each of the two statements once, for all four lanes


def test_rows_read_before_the_round_was_sent_are_refused(
    database: Database, cursor: DBAPICursor
) -> None:
    _, words = statements(database)
    with batched(cursor), in_round(cursor):
        pending = words.send(cursor, {"lane": 1})
        with pytest.raises(RuntimeError, match="not sent"):
            pending.all()


def test_statements_sent_on_one_cursor_each_answer_their_own_rows(
    database: Database, cursor: DBAPICursor
) -> None:
    insert, words = statements(database)
    insert.executemany(cursor, [{"lane": 1, "word": "one"}, {"lane": 2, "word": "two"}])
    with batched(cursor):
        first = words.send(cursor, {"lane": 1})
        second = words.send(cursor, {"lane": 2})

    assert second.all() == [("two",)]
    assert first.all() == [("one",)]
