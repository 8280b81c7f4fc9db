"""The hot session statements, compiled once per dialect and run on the DB-API cursor.

Session writes are the hottest writes: their statements run on the cursor of the
session's own connection, inside its transaction (see `app.core.driver`), so a
new session costs its round trips and little else. On PostgreSQL they go in two
batches (`batched`): what the write must know first (the lock, the stage reached,
whether the UUID is taken), then the new rows. Sessions logged together send each
batch together (`app.core.group_commit`), the same statement of all of them sent once
(`app.core.rounds`; the forms that take all of them at once are in `at_once`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Dialect, Table, bindparam, exists, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.sql.expression import BindParameter
from sqlmodel import Session, select

from app.core.driver import DriverStatement, Pending, driver_cursor
from app.core.models import table_of
from app.progress.models import (
    Enrollment,
    ExerciseRating,
    SessionEntry,
    SessionLog,
    SessionSequence,
)
from app.progress.sessions import at_once


@dataclass(frozen=True, slots=True)
class Statements:
    stage_reached: DriverStatement
    lock_person: DriverStatement | None
    owner_of_log: DriverStatement
    next_seq: DriverStatement
    insert_log: DriverStatement
    numbered_insert_log: DriverStatement | None
    insert_entries: DriverStatement
    raise_ratings: DriverStatement


LOG_COLUMNS = (
    "id",
    "user_id",
    "program_id",
    "stage_position",
    "performed_at",
    "note",
    "seq",
    "created_at",
    "updated_at",
    "deleted_at",
)
ENTRY_COLUMNS = (
    "session_id",
    "user_id",
    "program_id",
    "stage_position",
    "performed_at",
    "exercise_id",
    "position",
    "sets_done",
    "reps_done",
    "hold_seconds_done",
    "difficulty",
    "pain",
    "note",
)
RATING_COLUMNS = (
    "user_id",
    "program_id",
    "stage_position",
    "exercise_id",
    "difficulty",
    "performed_at",
    "session_id",
)


RATING_KEY = ("user_id", "program_id", "stage_position", "exercise_id")


def latest_rating_per_key(parameter_sets: list[Any]) -> list[Any]:
    """A round's ratings, one per key: the last of those dated latest. Upserted one after
    another, each replaces the stored rating unless that one is dated later, which leaves
    exactly that one (or the stored rating, if it is later than all of them)."""
    latest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for parameters in parameter_sets:
        key = tuple(parameters[name] for name in RATING_KEY)
        kept = latest.get(key)
        if kept is None or parameters["performed_at"] >= kept["performed_at"]:
            latest[key] = parameters
    return list(latest.values())


def _parameters(table: Table, columns: tuple[str, ...]) -> list[BindParameter[Any]]:
    return [bindparam(name, type_=table.c[name].type) for name in columns]


def _numbered_insert_log(sequence: Table, log: Table, dialect: Dialect) -> DriverStatement:
    """PostgreSQL: take the person's next change number and insert the session under it, in
    one statement answering (change number, 1 if inserted else 0)."""
    taken = (
        postgresql.insert(sequence)
        .values(user_id=bindparam("user_id"), last_seq=1)
        .on_conflict_do_update(
            index_elements=["user_id"], set_={"last_seq": sequence.c.last_seq + 1}
        )
        .returning(sequence.c.last_seq)
        .cte("taken")
    )
    columns = tuple(name for name in LOG_COLUMNS if name != "seq")
    inserted = (
        postgresql.insert(log)
        .from_select([*columns, "seq"], select(*[*_parameters(log, columns), taken.c.last_seq]))
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(log.c.id)
        .cte("inserted")
    )
    count = select(func.count()).select_from(inserted).scalar_subquery()
    return DriverStatement(
        select(taken.c.last_seq, count),
        dialect,
        at_once=at_once.numbered_logs(sequence, log, columns, dialect),
    )


@cache  # once per engine's dialect
def _build_statements(dialect: Dialect) -> Statements:
    postgres = dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    sequence = table_of(SessionSequence)
    log = table_of(SessionLog)
    ratings = insert(table_of(ExerciseRating))
    enrollment = table_of(Enrollment)
    entry = table_of(SessionEntry)
    # PostgreSQL: lock the person's counter row (made if missing) without moving it. A
    # write takes it before anything else, so two instances writing the same person wait
    # for each other whole: the second sees the first's session (the same UUID sent to
    # both is found unchanged) instead of racing it. SQLite has one writer at a time.
    lock_person = (
        DriverStatement(
            insert(sequence)
            .values(user_id=bindparam("user_id"), last_seq=0)
            .on_conflict_do_update(
                index_elements=["user_id"], set_={"last_seq": sequence.c.last_seq}
            )
            .returning(sequence.c.last_seq),
            dialect,
            repeatable=True,  # the lock is held until the commit: taking it again is nothing
        )
        if postgres
        else None
    )
    return Statements(
        stage_reached=DriverStatement(
            select(enrollment.c.current_stage).where(
                enrollment.c.user_id == bindparam("user_id"),
                enrollment.c.program_id == bindparam("program_id"),
            ),
            dialect,
            repeatable=True,
        ),
        lock_person=lock_person,
        # Whose session a UUID is, locked until the write commits (a replace or a replay).
        owner_of_log=DriverStatement(
            select(log.c.user_id).where(log.c.id == bindparam("session_id")).with_for_update(),
            dialect,
            repeatable=True,
            at_once=at_once.owners(log, dialect) if postgres else None,
        ),
        next_seq=DriverStatement(
            insert(sequence)
            .values(user_id=bindparam("user_id"), last_seq=1)
            .on_conflict_do_update(
                index_elements=["user_id"], set_={"last_seq": sequence.c.last_seq + 1}
            )
            .returning(sequence.c.last_seq),
            dialect,
        ),
        # RETURNING says whether this insert won: rowcount is not reliable across drivers.
        insert_log=DriverStatement(
            insert(log).on_conflict_do_nothing(index_elements=["id"]).returning(log.c.id),
            dialect,
            keys=LOG_COLUMNS,
        ),
        numbered_insert_log=(_numbered_insert_log(sequence, log, dialect) if postgres else None),
        # Only under the person's own session: sent with the insert of the log before its
        # answer is known, these must not land under another person's session of that UUID.
        insert_entries=DriverStatement(
            insert(entry).from_select(
                ENTRY_COLUMNS,
                select(*_parameters(entry, ENTRY_COLUMNS)).where(
                    exists().where(
                        log.c.id == bindparam("session_id"), log.c.user_id == bindparam("user_id")
                    )
                ),
            ),
            dialect,
            at_once=at_once.entries(entry, log, ENTRY_COLUMNS, dialect) if postgres else None,
        ),
        # A new session's rating replaces the stored one unless that one is dated later.
        raise_ratings=DriverStatement(
            ratings.on_conflict_do_update(
                index_elements=["user_id", "program_id", "stage_position", "exercise_id"],
                set_={
                    "difficulty": ratings.excluded.difficulty,
                    "performed_at": ratings.excluded.performed_at,
                    "session_id": ratings.excluded.session_id,
                },
                where=ratings.excluded.performed_at >= table_of(ExerciseRating).c.performed_at,
            ),
            dialect,
            keys=RATING_COLUMNS,
            fold=latest_rating_per_key,
        ),
    )


def prepared(session: Session) -> Statements:
    return _build_statements(session.get_bind().dialect)


@dataclass(frozen=True, slots=True)
class Writing:
    """One session write: the ORM session, and a cursor on its connection for the hot path."""

    session: Session
    cursor: DBAPICursor
    statements: Statements


def lock_person(cursor: DBAPICursor, statements: Statements, user_id: int) -> None:
    """Hold the person's counter row until the write commits (PostgreSQL)."""
    if statements.lock_person is not None:
        statements.lock_person.scalar(cursor, {"user_id": user_id})


def lock_person_of(session: Session, user_id: int) -> None:
    with closing(driver_cursor(session)) as cursor:
        lock_person(cursor, prepared(session), user_id)


def next_seq(session: Session, user_id: int) -> int:
    """Take the person's next change number; its row lock orders concurrent writers."""
    with closing(driver_cursor(session)) as cursor:
        return take_seq(cursor, prepared(session), user_id)


def take_seq(cursor: DBAPICursor, statements: Statements, user_id: int) -> int:
    seq: int = statements.next_seq.scalar(cursor, {"user_id": user_id})
    return seq


@dataclass(frozen=True, slots=True)
class LookedUp:
    """What a session write reads before deciding anything, asked in one batch."""

    reached: Pending  # the stage the person has reached in the program (None: not enrolled)
    owner: Pending  # whose session the UUID already is (None: nobody's), locked


def look_up(writing: Writing, *, user_id: int, program_id: int, session_id: str) -> LookedUp:
    """Send the person's lock, then the stage reached and the UUID's owner (read them after)."""
    statements = writing.statements
    if statements.lock_person is not None:
        statements.lock_person.execute(writing.cursor, {"user_id": user_id})
    reached = statements.stage_reached.send(
        writing.cursor, {"user_id": user_id, "program_id": program_id}
    )
    owner = statements.owner_of_log.send(writing.cursor, {"session_id": session_id})
    return LookedUp(reached, owner)


def send_numbered_insert(
    writing: Writing, values: dict[str, Any]
) -> Callable[[], tuple[int, bool]]:
    """Insert a new session under the person's next change number; read (number, inserted)
    after the batch. Not inserted: the UUID was taken a moment before (the number is spent)."""
    statements = writing.statements
    if statements.numbered_insert_log is not None:
        pending = statements.numbered_insert_log.send(writing.cursor, values)

        def read() -> tuple[int, bool]:
            row = pending.first()
            assert row is not None  # the number is always taken
            return row[0], row[1] == 1

        return read
    seq = take_seq(writing.cursor, statements, values["user_id"])
    inserted = statements.insert_log.first(writing.cursor, {**values, "seq": seq}) is not None
    return lambda: (seq, inserted)


LOCKED_LOG = (
    select(SessionLog)
    .where(SessionLog.id == bindparam("session_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def locked_log(session: Session, session_id: str) -> SessionLog | None:
    log: SessionLog | None = (
        session.execute(LOCKED_LOG, {"session_id": session_id}).scalars().first()
    )
    return log
