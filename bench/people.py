"""Members and their history, written in bulk: 1,000 people and 100,000 sessions in seconds.

Going through the API (or the ORM) would take an hour, mostly argon2: so one
password is hashed with the app's own hasher and shared, and rows go in with
SQLAlchemy Core `insert()` and lists of dicts, in chunks, in one transaction.
Every person follows one program; their sessions climb its stages over the
last 60 days, so reads meet the history a months-old user base would have.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlmodel import SQLModel, col

from app.access.policy import Role
from app.catalog.models import Exercise, Program, Stage, StageExercise
from app.identity.models import User
from app.identity.passwords import hash_password
from app.progress.models import (
    Enrollment,
    SessionEntry,
    SessionLog,
    SessionSequence,
    StageChange,
    StageChangeReason,
)

PASSWORD = "bench passphrase 2718"  # noqa: S105 (a throwaway account in a throwaway database)
HISTORY = timedelta(days=60)
CHUNK = 5_000
RATINGS = ("hard", "moderate", "easy")
PAIN_LEVELS = range(7)
PAIN_CUMULATIVE = tuple(accumulate((25, 30, 20, 12, 7, 4, 2)))  # mostly mild, a few flare-ups

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProgramShape:
    """What the generator needs of a program: its id and each stage's exercises in order."""

    id: int
    slug: str
    stages: dict[int, list[int]]
    first_exercise: str


def email_of(index: int) -> str:
    return f"bench-{index + 1:04d}@example.com"


def stage_of(index: int, stage_count: int) -> int:
    """Stages 1, 2, 3, 1, 2, 3, ...: person #2 (index 1) is the stage-2 reader."""
    return 1 + index % min(3, stage_count)


def program_shape(connection: Connection, slug: str) -> ProgramShape:
    rows = connection.execute(
        select(col(Program.id), col(Stage.position), col(Exercise.id), col(Exercise.slug))
        .join(Stage, col(Stage.program_id) == col(Program.id))
        .join(StageExercise, col(StageExercise.stage_id) == col(Stage.id))
        .join(Exercise, col(Exercise.id) == col(StageExercise.exercise_id))
        .where(col(Program.slug) == slug)
        .order_by(col(Stage.position), col(StageExercise.position))
    ).all()
    if not rows:
        raise RuntimeError(f"the seed has no program '{slug}' with exercises")
    stages: dict[int, list[int]] = {}
    for _, position, exercise_id, _ in rows:
        stages.setdefault(position, []).append(_required(exercise_id))
    return ProgramShape(
        id=_required(rows[0][0]), slug=slug, stages=stages, first_exercise=rows[0][3]
    )


def insert_people(
    connection: Connection, shape: ProgramShape, *, users: int, sessions: int, now: datetime
) -> dict[str, int]:
    """Write `users` members with `sessions` sessions between them; return the row counts."""
    rng = random.Random(2718)  # noqa: S311 (repeatable test data, not secrets)
    user_ids = _insert_users(connection, users, now)
    per_user = _split(sessions, users)
    timelines = [
        _timeline(rng, n, stage_of(i, len(shape.stages)), now) for i, n in enumerate(per_user)
    ]
    enrollment_ids = _insert_enrollments(connection, shape, user_ids, timelines)
    changes = _insert_stage_changes(connection, enrollment_ids, timelines)
    entries = _insert_sessions(connection, shape, user_ids, timelines, rng)
    _insert(
        connection,
        SessionSequence,
        [{"user_id": u, "last_seq": n} for u, n in zip(user_ids, per_user, strict=True)],
    )
    return {
        "users": users,
        "enrollments": len(enrollment_ids),
        "stage_changes": changes,
        "sessions": sessions,
        "session_entries": entries,
    }


@dataclass(frozen=True, slots=True)
class Timeline:
    """One person's sessions: when, at which stage, and when each stage began."""

    performed_at: list[datetime]
    stage_of_session: list[int]
    stage_started: dict[int, datetime]

    @property
    def current_stage(self) -> int:
        return max(self.stage_started)


def _timeline(rng: random.Random, count: int, stage: int, now: datetime) -> Timeline:
    start = now - HISTORY
    step = HISTORY / max(count, 1)
    performed = [start + step * (j + rng.uniform(0.1, 0.9)) for j in range(count)]
    stages = [1 + j * stage // count for j in range(count)]
    started = {1: start - timedelta(days=1)}
    for j, (moment, position) in enumerate(zip(performed, stages, strict=True)):
        if j and position != stages[j - 1]:
            started[position] = moment - timedelta(minutes=30)
    return Timeline(performed, stages, started)


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _insert_users(connection: Connection, count: int, now: datetime) -> list[int]:
    password_hash = hash_password(PASSWORD)  # once: argon2 costs ~0.1 s a hash
    joined = now - HISTORY - timedelta(days=2)
    _insert(
        connection,
        User,
        [
            {
                "email": email_of(i),
                "password_hash": password_hash,
                "display_name": f"Bench Member {i + 1:04d}",
                "role": Role.MEMBER.value,
                "disabled": False,
                "created_at": joined,
                "updated_at": joined,
            }
            for i in range(count)
        ],
    )
    ids = dict(connection.execute(select(col(User.email), col(User.id))).tuples().all())
    return [_required(ids.get(email_of(i))) for i in range(count)]


def _insert_enrollments(
    connection: Connection, shape: ProgramShape, user_ids: list[int], timelines: list[Timeline]
) -> list[int]:
    rows = [
        {
            "user_id": user_id,
            "program_id": shape.id,
            "current_stage": line.current_stage,
            "started_at": line.stage_started[1],
            "stage_started_at": line.stage_started[line.current_stage],
            "completed_at": None,
            "assigned_by_id": None,
        }
        for user_id, line in zip(user_ids, timelines, strict=True)
    ]
    _insert(connection, Enrollment, rows)
    ids = dict(
        connection.execute(
            select(col(Enrollment.user_id), col(Enrollment.id)).where(
                col(Enrollment.program_id) == shape.id
            )
        )
        .tuples()
        .all()
    )
    return [_required(ids.get(user_id)) for user_id in user_ids]


def _insert_stage_changes(
    connection: Connection, enrollment_ids: list[int], timelines: list[Timeline]
) -> int:
    """The history an enrollment shows: enrolled at stage 1, then each move the rule allowed."""
    rows = [
        {
            "enrollment_id": enrollment_id,
            "from_stage": None if position == 1 else position - 1,
            "to_stage": position,
            "reason": (
                StageChangeReason.ENROLLED if position == 1 else StageChangeReason.RULE
            ).value,
            "changed_by_id": None,
            "note": None,
            "changed_at": moment,
        }
        for enrollment_id, line in zip(enrollment_ids, timelines, strict=True)
        for position, moment in sorted(line.stage_started.items())
    ]
    _insert(connection, StageChange, rows)
    return len(rows)


def _insert_sessions(
    connection: Connection,
    shape: ProgramShape,
    user_ids: list[int],
    timelines: list[Timeline],
    rng: random.Random,
) -> int:
    """Sessions and their entries, flushed as they are made so memory stays flat."""
    sessions: list[Row] = []
    entries: list[Row] = []
    written = 0
    for user_id, line in zip(user_ids, timelines, strict=True):
        for session_row, session_entries in _history(shape, user_id, line, rng):
            sessions.append(session_row)
            entries += session_entries
        if len(entries) >= CHUNK:
            written += _flush(connection, sessions, entries)
    return written + _flush(connection, sessions, entries)


def _flush(connection: Connection, sessions: list[Row], entries: list[Row]) -> int:
    """Sessions before their entries (the foreign key is checked at once), then empty both."""
    _insert(connection, SessionLog, sessions)
    _insert(connection, SessionEntry, entries)
    written = len(entries)
    sessions.clear()
    entries.clear()
    return written


def _history(
    shape: ProgramShape, user_id: int, line: Timeline, rng: random.Random
) -> Iterator[tuple[Row, list[Row]]]:
    counts = {p: line.stage_of_session.count(p) for p in set(line.stage_of_session)}
    done_at_stage = dict.fromkeys(counts, 0)
    for seq, (moment, stage) in enumerate(
        zip(line.performed_at, line.stage_of_session, strict=True), start=1
    ):
        progress = done_at_stage[stage] / counts[stage]  # ratings ease as a stage goes on
        done_at_stage[stage] += 1
        session_id = str(uuid.uuid4())
        common = {
            "user_id": user_id,
            "program_id": shape.id,
            "stage_position": stage,
            "performed_at": moment,
        }
        yield (
            common
            | {
                "id": session_id,
                "note": None,
                "seq": seq,
                "created_at": moment,
                "updated_at": moment,
                "deleted_at": None,
            },
            [
                common | _entry(rng, session_id, exercise_id, position, progress)
                for position, exercise_id in enumerate(shape.stages[stage], start=1)
            ],
        )


def _entry(
    rng: random.Random, session_id: str, exercise_id: int, position: int, progress: float
) -> Row:
    hard, moderate = 1 - progress, 1.0  # easy: 0.2 + 2 * progress
    rating = rng.choices(RATINGS, cum_weights=(hard, hard + moderate, 2.2 + progress))[0]
    return {
        "session_id": session_id,
        "exercise_id": exercise_id,
        "position": position,
        "sets_done": rng.choice((2, 3)),
        "reps_done": rng.choice((8, 10, 12)),
        "hold_seconds_done": None,
        "difficulty": rating,
        "pain": rng.choices(PAIN_LEVELS, cum_weights=PAIN_CUMULATIVE)[0],
        "note": None,
    }


def _insert(connection: Connection, model: type[SQLModel], rows: list[Row]) -> None:
    for start in range(0, len(rows), CHUNK):
        connection.execute(insert(model), rows[start : start + CHUNK])


def _required(value: int | None) -> int:
    if value is None:
        raise RuntimeError("a row written a moment ago cannot be found")
    return value
