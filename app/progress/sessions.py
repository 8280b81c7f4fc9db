"""Session logs: idempotent by the client's UUID, synced by a per-person change counter.

Phones log offline and retry, and one person may use several devices. So a
session is written by its UUID (a replay returns what is stored), a batch
answers item by item, and every change (deletions too) takes the next number
of the person's counter, which a `since` cursor follows.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import Dialect, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session, col, select

from app.catalog.models import Exercise
from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.clinics.events import emit
from app.clinics.models import EventType
from app.core.driver import DriverStatement, driver_cursor
from app.core.errors import InvalidInputError, NotFoundError, ProblemError
from app.core.models import as_utc, table_of
from app.progress.models import (
    Enrollment,
    ExerciseRating,
    SessionEntry,
    SessionLog,
    SessionSequence,
)
from app.progress.schemas import SessionIn, SyncItem

CLOCK_SKEW = timedelta(minutes=5)
FEED_PAGE = 100


class Outcome(StrEnum):
    CREATED = "created"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ResolvedEntry:
    exercise_id: int
    exercise_slug: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A session body checked against the catalogue and the person's enrollment."""

    program: ProgramEntry
    stage: int
    performed_at: datetime
    note: str | None
    entries: tuple[ResolvedEntry, ...]


def _invalid(pointer: str, detail: str) -> InvalidInputError:
    return InvalidInputError.for_field(pointer, detail)


def resolve(
    writing: _Writing, *, user_id: int, body: SessionIn, snapshot: CatalogSnapshot, now: datetime
) -> Resolved:
    """Check what only the server knows: the program, the enrollment, the stage, the time."""
    if body.performed_at > now + CLOCK_SKEW:
        raise _invalid("body.performed_at", "performed_at is in the future.")
    program = snapshot.any_program(body.program)
    if program is None:
        raise _invalid("body.program", f"No program with slug '{body.program}'.")
    reached = writing.statements.stage_reached.scalar(
        writing.cursor, {"user_id": user_id, "program_id": program.id}
    )
    if reached is None and program.clinic_id is not None:
        # A clinic's program is only there for the patients following it.
        raise _invalid("body.program", f"No program with slug '{body.program}'.")
    if reached is None:
        raise _invalid("body.program", f"You are not enrolled in '{program.slug}'.")
    if body.stage > min(reached, len(program.stages)):
        raise _invalid(
            "body.stage", f"You have reached stage {reached}; stage {body.stage} is ahead."
        )
    allowed = program.exercise_ids_up_to(body.stage)
    entries: list[ResolvedEntry] = []
    for index, entry in enumerate(body.entries):
        exercise = snapshot.exercise_by_slug.get(entry.exercise)
        if exercise is None or exercise.id not in allowed:
            raise _invalid(
                f"body.entries.{index}.exercise",
                f"'{entry.exercise}' is not an exercise of stage {body.stage} or earlier "
                f"of '{program.slug}'.",
            )
        entries.append(
            ResolvedEntry(
                exercise_id=exercise.id,
                exercise_slug=exercise.slug,
                values=entry.model_dump(exclude={"exercise"}),
            )
        )
    return Resolved(program, body.stage, body.performed_at, body.note, tuple(entries))


# Session writes are the hottest writes: their statements are compiled once per dialect
# and run on the DB-API cursor, inside the session's transaction (see app.core.driver),
# so a new session costs its round trips and little else.


@dataclass(frozen=True, slots=True)
class _Statements:
    stage_reached: DriverStatement
    owner_of_log: DriverStatement
    next_seq: DriverStatement
    insert_log: DriverStatement
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


@cache  # once per engine's dialect
def _build_statements(dialect: Dialect) -> _Statements:
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    sequence = table_of(SessionSequence)
    log = table_of(SessionLog)
    ratings = insert(table_of(ExerciseRating))
    enrollment = table_of(Enrollment)
    return _Statements(
        stage_reached=DriverStatement(
            select(enrollment.c.current_stage).where(
                enrollment.c.user_id == bindparam("user_id"),
                enrollment.c.program_id == bindparam("program_id"),
            ),
            dialect,
        ),
        # Whose session a UUID is, locked until the write commits (a replace or a replay).
        owner_of_log=DriverStatement(
            select(log.c.user_id).where(log.c.id == bindparam("session_id")).with_for_update(),
            dialect,
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
        insert_entries=DriverStatement(insert(table_of(SessionEntry)), dialect, keys=ENTRY_COLUMNS),
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
        ),
    )


def _prepared(session: Session) -> _Statements:
    return _build_statements(session.get_bind().dialect)


@dataclass(frozen=True, slots=True)
class _Writing:
    """One session write: the ORM session, and a cursor on its connection for the hot path."""

    session: Session
    cursor: DBAPICursor
    statements: _Statements


def next_seq(session: Session, user_id: int) -> int:
    """Take the person's next change number; its row lock orders concurrent writers."""
    with closing(driver_cursor(session)) as cursor:
        return _next_seq(cursor, _prepared(session), user_id)


def _next_seq(cursor: DBAPICursor, statements: _Statements, user_id: int) -> int:
    seq: int = statements.next_seq.scalar(cursor, {"user_id": user_id})
    return seq


LOCKED_LOG = (
    select(SessionLog)
    .where(SessionLog.id == bindparam("session_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def _locked(session: Session, session_id: str) -> SessionLog | None:
    log: SessionLog | None = (
        session.execute(LOCKED_LOG, {"session_id": session_id}).scalars().first()
    )
    return log


def _entry_rows(session: Session, session_id: str) -> list[SessionEntry]:
    return list(
        session.exec(
            select(SessionEntry)
            .where(SessionEntry.session_id == session_id)
            .order_by(col(SessionEntry.position))
        )
    )


def _same(log: SessionLog, entries: list[SessionEntry], resolved: Resolved) -> bool:
    if (
        log.deleted_at is not None
        or log.program_id != resolved.program.id
        or log.stage_position != resolved.stage
        or as_utc(log.performed_at) != as_utc(resolved.performed_at)
        or log.note != resolved.note
        or len(entries) != len(resolved.entries)
    ):
        return False
    return all(
        row.exercise_id == want.exercise_id
        and all(getattr(row, name) == value for name, value in want.values.items())
        for row, want in zip(entries, resolved.entries, strict=True)
    )


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just created, answered as it was sent (no row read back)."""

    id: str
    user_id: int
    program_id: int
    stage_position: int
    performed_at: datetime
    note: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What was done of one exercise in a session just created."""

    sets_done: int
    reps_done: int | None
    hold_seconds_done: int | None
    difficulty: str
    pain: int
    note: str | None


StoredSession = SessionLog | NewSession
EntryWithSlug = tuple[SessionEntry | NewEntry, str]


@dataclass(frozen=True, slots=True)
class Written:
    """A session as stored after a put, with its entries (and their exercise slugs)."""

    log: StoredSession
    outcome: Outcome
    entries: list[EntryWithSlug]


def put_session(
    session: Session,
    *,
    user_id: int,
    session_id: UUID,
    body: SessionIn,
    snapshot: CatalogSnapshot,
    now: datetime,
) -> Written:
    """Create or replace one session by its client UUID; tell linked clinics about it."""
    with closing(driver_cursor(session)) as cursor:
        writing = _Writing(session, cursor, _prepared(session))
        resolved = resolve(writing, user_id=user_id, body=body, snapshot=snapshot, now=now)
        written = _write(writing, user_id=user_id, key=str(session_id), resolved=resolved, now=now)
    if written.outcome is not Outcome.UNCHANGED:
        _announce(session, written.log, resolved, written.outcome, now)
    return written


def _announce(
    session: Session, log: StoredSession, resolved: Resolved, outcome: Outcome, now: datetime
) -> None:
    worst = max(entry.values["pain"] for entry in resolved.entries)
    program = resolved.program
    common = {"session_id": log.id, "program": program.slug, "stage": resolved.stage}
    emit(
        session,
        patient_id=log.user_id,
        event_type=EventType.SESSION_LOGGED,
        data={
            **common,
            "performed_at": as_utc(resolved.performed_at).isoformat(),
            "outcome": outcome.value,
            "entries": len(resolved.entries),
            "worst_pain": worst,
        },
        # A clinic's own program is news for that clinic only, never for the patient's others.
        clinic_id=program.clinic_id,
        now=now,
    )
    stage = program.stage(resolved.stage)
    limit = stage.rule["max_pain"] if stage else 10
    if worst >= limit:
        emit(
            session,
            patient_id=log.user_id,
            event_type=EventType.PAIN_REPORTED,
            data={**common, "pain": worst, "max_pain": limit},
            clinic_id=program.clinic_id,
            now=now,
        )


def _write(
    writing: _Writing, *, user_id: int, key: str, resolved: Resolved, now: datetime
) -> Written:
    session, statements = writing.session, writing.statements
    # Most writes are new sessions: ask whether the UUID is taken without loading a row
    # (after flushing what this transaction changed so far, which the question must see).
    session.flush()
    owner = statements.owner_of_log.scalar(writing.cursor, {"session_id": key})
    existing = _locked(session, key) if owner is not None else None
    if existing is not None and existing.user_id != user_id:
        raise NotFoundError("No such session.")  # another person's UUID: never say more
    if existing is not None:
        stored = _entry_rows(session, key)
        if _same(existing, stored, resolved):
            slugs = [entry.exercise_slug for entry in resolved.entries]
            return Written(existing, Outcome.UNCHANGED, list(zip(stored, slugs, strict=True)))
    seq = _next_seq(writing.cursor, statements, user_id)
    if existing is None:
        created = _insert(writing, user_id=user_id, key=key, resolved=resolved, seq=seq, now=now)
        if created is not None:
            return created
        # Another device created it a moment ago: replace it like any other.
        existing = _locked(session, key)
        assert existing is not None
        if existing.user_id != user_id:
            raise NotFoundError("No such session.")
    outcome = Outcome.CREATED if existing.deleted_at is not None else Outcome.REPLACED
    existing.program_id = resolved.program.id
    existing.stage_position = resolved.stage
    existing.performed_at = resolved.performed_at
    existing.note = resolved.note
    existing.seq = seq
    existing.updated_at = now
    existing.deleted_at = None
    session.add(existing)
    touched = _rating_keys(session, key)
    session.execute(delete(SessionEntry).where(col(SessionEntry.session_id) == key))
    entries = _write_entries(session, key, user_id, resolved)
    refresh_ratings(session, user_id, touched | _keys_of(resolved))
    return Written(existing, outcome, entries)


def _insert(
    writing: _Writing, *, user_id: int, key: str, resolved: Resolved, seq: int, now: datetime
) -> Written | None:
    """A new session with its entries and ratings; None when another device won the UUID."""
    log = NewSession(
        id=key,
        user_id=user_id,
        program_id=resolved.program.id,
        stage_position=resolved.stage,
        performed_at=resolved.performed_at,
        note=resolved.note,
        updated_at=now,
    )
    values = {
        "id": key,
        "user_id": user_id,
        "program_id": log.program_id,
        "stage_position": log.stage_position,
        "performed_at": log.performed_at,
        "note": log.note,
        "seq": seq,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    if writing.statements.insert_log.first(writing.cursor, values) is None:
        return None
    writing.statements.insert_entries.executemany(
        writing.cursor, _entry_values(key, user_id, resolved)
    )
    _raise_ratings(writing, user_id, key, resolved)
    # What was stored is exactly what was sent: answer it without reading back.
    entries: list[EntryWithSlug] = [
        (NewEntry(**entry.values), entry.exercise_slug) for entry in resolved.entries
    ]
    return Written(log, Outcome.CREATED, entries)


def _entry_values(session_id: str, user_id: int, resolved: Resolved) -> list[dict[str, Any]]:
    return [
        {
            "session_id": session_id,
            "user_id": user_id,
            "program_id": resolved.program.id,
            "stage_position": resolved.stage,
            "performed_at": resolved.performed_at,
            "exercise_id": entry.exercise_id,
            "position": position,
            **entry.values,
        }
        for position, entry in enumerate(resolved.entries, start=1)
    ]


def _write_entries(
    session: Session, session_id: str, user_id: int, resolved: Resolved
) -> list[EntryWithSlug]:
    rows = [SessionEntry(**values) for values in _entry_values(session_id, user_id, resolved)]
    session.add_all(rows)
    session.flush()
    return [(row, entry.exercise_slug) for row, entry in zip(rows, resolved.entries, strict=True)]


RatingKey = tuple[int, int, int]  # (program id, stage position, exercise id)


def _keys_of(resolved: Resolved) -> set[RatingKey]:
    return {(resolved.program.id, resolved.stage, e.exercise_id) for e in resolved.entries}


def _rating_keys(session: Session, session_id: str) -> set[RatingKey]:
    rows = session.exec(
        select(
            SessionEntry.program_id, SessionEntry.stage_position, SessionEntry.exercise_id
        ).where(SessionEntry.session_id == session_id)
    )
    return {(program_id, stage, exercise_id) for program_id, stage, exercise_id in rows}


def _raise_ratings(writing: _Writing, user_id: int, session_id: str, resolved: Resolved) -> None:
    """A new session's ratings, in one statement: each becomes the newest unless an
    older-dated session already holds a later one.

    A new session's entries are the last written, so at an equal time they win, as
    `refresh_ratings` would decide; within the session the last entry of an exercise wins.
    """
    newest: dict[RatingKey, dict[str, Any]] = {}
    for entry in resolved.entries:
        key = (resolved.program.id, resolved.stage, entry.exercise_id)
        newest[key] = {
            "user_id": user_id,
            "program_id": key[0],
            "stage_position": key[1],
            "exercise_id": key[2],
            "difficulty": entry.values["difficulty"],
            "performed_at": resolved.performed_at,
            "session_id": session_id,
        }
    if newest:
        writing.statements.raise_ratings.executemany(writing.cursor, list(newest.values()))


def refresh_ratings(session: Session, user_id: int, keys: set[RatingKey]) -> None:
    """Recompute the newest rating for each touched exercise: one index seek per key."""
    session.flush()
    for program_id, stage, exercise_id in sorted(keys):
        newest = session.exec(
            select(SessionEntry)
            .where(
                SessionEntry.user_id == user_id,
                SessionEntry.program_id == program_id,
                SessionEntry.stage_position == stage,
                SessionEntry.exercise_id == exercise_id,
            )
            .order_by(col(SessionEntry.performed_at).desc(), col(SessionEntry.id).desc())
            .limit(1)
        ).first()
        current = session.get(ExerciseRating, (user_id, program_id, stage, exercise_id))
        if newest is None:
            if current is not None:
                session.delete(current)
            continue
        if current is None:
            current = ExerciseRating(
                user_id=user_id,
                program_id=program_id,
                stage_position=stage,
                exercise_id=exercise_id,
                difficulty=newest.difficulty,
                performed_at=newest.performed_at,
                session_id=newest.session_id,
            )
        else:
            current.difficulty = newest.difficulty
            current.performed_at = newest.performed_at
            current.session_id = newest.session_id
        session.add(current)
    session.flush()


@dataclass(frozen=True, slots=True)
class SyncResultItem:
    id: str
    status: str
    log: StoredSession | None = None
    detail: str | None = None
    errors: list[dict[str, str]] | None = None


def sync_sessions(
    session: Session,
    *,
    user_id: int,
    items: list[dict[str, Any]],
    snapshot: CatalogSnapshot,
    now: datetime,
) -> list[SyncResultItem]:
    """Write each item in its own savepoint: one bad item never drops the others."""
    results: list[SyncResultItem] = []
    for index, raw in enumerate(items):
        raw_id = str(raw.get("id", f"#{index}")) if isinstance(raw, dict) else f"#{index}"
        try:
            item = SyncItem.model_validate(raw)
        except ValidationError as exc:
            errors = [
                {
                    "pointer": ".".join(["body", "sessions", str(index), *map(str, err["loc"])]),
                    "detail": err["msg"],
                }
                for err in exc.errors()
            ]
            results.append(
                SyncResultItem(raw_id, "rejected", detail="Invalid session.", errors=errors)
            )
            continue
        body = SessionIn.model_validate(item.model_dump(exclude={"id"}))
        try:
            with session.begin_nested():
                written = put_session(
                    session,
                    user_id=user_id,
                    session_id=item.id,
                    body=body,
                    snapshot=snapshot,
                    now=now,
                )
        except ProblemError as exc:
            # Point into the batch, as validation errors do: body.X -> body.sessions.N.X
            errors = [
                {**error, "pointer": error["pointer"].replace("body", f"body.sessions.{index}", 1)}
                for error in exc.extra.get("errors") or []
            ]
            results.append(
                SyncResultItem(str(item.id), "rejected", detail=exc.detail, errors=errors)
            )
            continue
        results.append(SyncResultItem(str(item.id), written.outcome.value, log=written.log))
    return results


def delete_session(session: Session, *, user_id: int, session_id: UUID, now: datetime) -> None:
    """Delete one session, leaving a tombstone so other devices learn of it."""
    key = str(session_id)
    log = _locked(session, key)
    if log is None or log.user_id != user_id:
        raise NotFoundError("No such session.")
    if log.deleted_at is not None:
        return  # already deleted: a retried DELETE succeeds quietly
    log.seq = next_seq(session, user_id)
    log.deleted_at = now
    log.updated_at = now
    session.add(log)
    touched = _rating_keys(session, key)
    session.execute(delete(SessionEntry).where(col(SessionEntry.session_id) == key))
    refresh_ratings(session, user_id, touched)


# ---------------------------------------------------------------------------
# The change feed


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s1:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "s1":
            raise ValueError(prefix)
        return max(0, int(number))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError.for_field("query.since", "Not a cursor from this API.") from exc


@dataclass(frozen=True, slots=True)
class FeedPage:
    logs: list[SessionLog]
    entries: dict[str, list[tuple[SessionEntry, str]]]
    next_seq: int
    has_more: bool


def changes_since(
    session: Session,
    *,
    user_id: int,
    since: int,
    program_id: int | None,
    limit: int = FEED_PAGE,
) -> FeedPage:
    """Sessions changed after `since`, deletions included, oldest change first."""
    query = (
        select(SessionLog)
        .where(SessionLog.user_id == user_id, col(SessionLog.seq) > since)
        .order_by(col(SessionLog.seq))
        .limit(limit + 1)
    )
    if program_id is not None:
        query = query.where(SessionLog.program_id == program_id)
    logs = list(session.exec(query))
    has_more = len(logs) > limit
    logs = logs[:limit]
    return FeedPage(
        logs=logs,
        entries=entries_of(session, [log.id for log in logs if log.deleted_at is None]),
        next_seq=logs[-1].seq if logs else since,
        has_more=has_more,
    )


def entries_of(
    session: Session, session_ids: list[str]
) -> dict[str, list[tuple[SessionEntry, str]]]:
    """Entries of several sessions with their exercise slugs, in one query."""
    found: dict[str, list[tuple[SessionEntry, str]]] = defaultdict(list)
    if not session_ids:
        return found
    rows = session.exec(
        select(SessionEntry, Exercise.slug)
        .join(Exercise, col(Exercise.id) == SessionEntry.exercise_id)
        .where(col(SessionEntry.session_id).in_(session_ids))
        .order_by(col(SessionEntry.session_id), col(SessionEntry.position))
    )
    for entry, slug in rows:
        found[entry.session_id].append((entry, slug))
    return found
