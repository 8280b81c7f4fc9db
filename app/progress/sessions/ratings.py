"""The newest rating of each exercise at each stage, kept in step with the sessions.

The advance rule asks for each exercise's latest rating; reading it from a kept
table costs rows bounded by the catalogue, never by the length of anyone's history.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.progress.models import ExerciseRating, SessionEntry
from app.progress.sessions.checks import Resolved
from app.progress.sessions.statements import Writing

RatingKey = tuple[int, int, int]  # (program id, stage position, exercise id)


def keys_of(resolved: Resolved) -> set[RatingKey]:
    return {(resolved.program.id, resolved.stage, e.exercise_id) for e in resolved.entries}


def rating_keys(session: Session, session_id: str) -> set[RatingKey]:
    rows = session.exec(
        select(
            SessionEntry.program_id, SessionEntry.stage_position, SessionEntry.exercise_id
        ).where(SessionEntry.session_id == session_id)
    )
    return {(program_id, stage, exercise_id) for program_id, stage, exercise_id in rows}


def raise_ratings(writing: Writing, user_id: int, session_id: str, resolved: Resolved) -> None:
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
