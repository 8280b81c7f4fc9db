"""Writing one session by its client UUID: created, replaced, unchanged or deleted.

A replay returns what is stored; another device's write of the same UUID a
moment before becomes a replacement; every change (a deletion too) takes the
person's next change number, which the feed's cursor follows. Linked clinics
hear of it through the outbox, in the same transaction.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.catalog.snapshot import CatalogSnapshot
from app.clinics.events import Listener, ask_listeners, emit
from app.clinics.models import EventType
from app.core.changes import StandingChanged, record
from app.core.driver import batched, driver_cursor
from app.core.errors import NotFoundError
from app.core.group_commit import Staged, Step
from app.core.models import as_utc
from app.progress.models import SessionEntry, SessionLog
from app.progress.schemas import SessionIn
from app.progress.sessions.checks import Resolved, known_program, resolve
from app.progress.sessions.ratings import keys_of, raise_ratings, rating_keys, refresh_ratings
from app.progress.sessions.statements import (
    Writing,
    lock_person_of,
    locked_log,
    look_up,
    next_seq,
    prepared,
    send_numbered_insert,
    take_seq,
)


class Outcome(StrEnum):
    CREATED = "created"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"


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
) -> Staged[Written]:
    """Create or replace one session by its client UUID; tell linked clinics about it.

    Staged (`app.core.group_commit`): a new session is two batches, what it must know
    first, then its rows; a replay or a replacement goes on one statement at a time."""
    program = known_program(body, snapshot, now)
    key = str(session_id)
    session.flush()  # what this transaction wrote so far must count in what is looked up
    with closing(driver_cursor(session)) as cursor:
        writing = Writing(session, cursor, prepared(session))
        with batched(cursor):  # one round trip on PostgreSQL
            looked_up = look_up(writing, user_id=user_id, program_id=program.id, session_id=key)
            asked = ask_listeners(
                session, writing.cursor, patient_id=user_id, clinic_id=program.clinic_id
            )
        yield Step.READ
        owner, listeners = looked_up.owner.scalar(), asked.all()
        resolved = resolve(
            program, reached=looked_up.reached.scalar(), body=body, snapshot=snapshot
        )
        written = yield from _write(
            writing, user_id=user_id, key=key, owner=owner, resolved=resolved, now=now
        )
    if written.outcome is not Outcome.UNCHANGED:
        _announce(session, written.log, resolved, written.outcome, now, listeners)
        record(session, StandingChanged(user_id))
    return written


def _announce(
    session: Session,
    log: StoredSession,
    resolved: Resolved,
    outcome: Outcome,
    now: datetime,
    listeners: list[Listener],
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
        listeners=listeners,
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
            listeners=listeners,
        )


def _write(
    writing: Writing,
    *,
    user_id: int,
    key: str,
    owner: int | None,
    resolved: Resolved,
    now: datetime,
) -> Staged[Written]:
    """`owner`: whose session the UUID is already (looked up, locked, under the person's lock)."""
    session = writing.session
    if owner is None:
        created, seq = yield from _insert(
            writing, user_id=user_id, key=key, resolved=resolved, now=now
        )
        if created is not None:
            return created
        # Taken a moment ago: by another person (refused below, which undoes the number and
        # the rows); this person's own writes wait for each other, but would be replaced.
        yield Step.ONE_BY_ONE
        existing = locked_log(session, key)
    else:
        yield Step.ONE_BY_ONE
        existing = locked_log(session, key)
        seq = None
    if existing is None or existing.user_id != user_id:
        raise NotFoundError("No such session.")  # another person's UUID: never say more
    if seq is None:
        stored = _entry_rows(session, key)
        if _same(existing, stored, resolved):
            slugs = [entry.exercise_slug for entry in resolved.entries]
            return Written(existing, Outcome.UNCHANGED, list(zip(stored, slugs, strict=True)))
        seq = take_seq(writing.cursor, writing.statements, user_id)
    outcome = Outcome.CREATED if existing.deleted_at is not None else Outcome.REPLACED
    existing.program_id = resolved.program.id
    existing.stage_position = resolved.stage
    existing.performed_at = resolved.performed_at
    existing.note = resolved.note
    existing.seq = seq
    existing.updated_at = now
    existing.deleted_at = None
    session.add(existing)
    touched = rating_keys(session, key)
    session.execute(delete(SessionEntry).where(col(SessionEntry.session_id) == key))
    entries = _write_entries(session, key, user_id, resolved)
    refresh_ratings(session, user_id, touched | keys_of(resolved))
    return Written(existing, outcome, entries)


def _insert(
    writing: Writing, *, user_id: int, key: str, resolved: Resolved, now: datetime
) -> Staged[tuple[Written | None, int]]:
    """A new session with its entries and ratings, sent together (one round trip on
    PostgreSQL); None and the change number it took when the UUID was taken meanwhile."""
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
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    with batched(writing.cursor):
        numbered = send_numbered_insert(writing, values)
        writing.statements.insert_entries.executemany(
            writing.cursor, _entry_values(key, user_id, resolved)
        )
        raise_ratings(writing, user_id, key, resolved)
    yield Step.WROTE
    seq, inserted = numbered()
    if not inserted:
        return None, seq
    # What was stored is exactly what was sent: answer it without reading back.
    entries: list[EntryWithSlug] = [
        (NewEntry(**entry.values), entry.exercise_slug) for entry in resolved.entries
    ]
    return Written(log, Outcome.CREATED, entries), seq


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


def delete_session(session: Session, *, user_id: int, session_id: UUID, now: datetime) -> None:
    """Delete one session, leaving a tombstone so other devices learn of it."""
    key = str(session_id)
    lock_person_of(session, user_id)  # first, as every session write does
    log = locked_log(session, key)
    if log is None or log.user_id != user_id:
        raise NotFoundError("No such session.")
    if log.deleted_at is not None:
        return  # already deleted: a retried DELETE succeeds quietly
    log.seq = next_seq(session, user_id)
    log.deleted_at = now
    log.updated_at = now
    session.add(log)
    touched = rating_keys(session, key)
    session.execute(delete(SessionEntry).where(col(SessionEntry.session_id) == key))
    refresh_ratings(session, user_id, touched)
    record(session, StandingChanged(user_id))
