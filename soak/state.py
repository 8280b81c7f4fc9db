"""What the database holds after the crash, read directly with SQLAlchemy (not through the API)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlmodel import col

from app.catalog.models import Program
from app.core.db import Database, create_db_engine
from app.outbox.models import OutboxMessage
from app.progress.models import Enrollment, SessionEntry, SessionLog, StageChange


@dataclass(slots=True)
class DatabaseState:
    sessions: dict[str, int] = field(default_factory=dict)  # live session id -> entry rows
    deleted_sessions: int = 0
    duplicate_session_ids: int = 0
    duplicate_entries: int = 0  # (session, exercise) or (session, position) written twice
    completed: dict[tuple[int, str], bool] = field(default_factory=dict)  # (user, program)
    stage_changes: Counter[tuple[int, str, str]] = field(default_factory=Counter)  # + reason
    session_events: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, session)
    stage_events: Counter[tuple[int, str, str]] = field(default_factory=Counter)  # (user, prog, by)
    outbox_rows: int = 0
    outbox_delivered: int = 0
    integrity: str = "n/a"


def read_state(database_url: str) -> DatabaseState:
    database = Database(create_db_engine(database_url))
    try:
        with database.engine.connect() as connection:
            state = DatabaseState()
            _sessions(connection, state)
            _enrollments(connection, state)
            _outbox(connection, state)
            if connection.dialect.name == "sqlite":
                rows = connection.execute(text("PRAGMA integrity_check")).scalars().all()
                state.integrity = "; ".join(str(row) for row in rows)
            return state
    finally:
        database.dispose()


def _sessions(connection: Connection, state: DatabaseState) -> None:
    entries = dict(
        connection.execute(
            select(col(SessionEntry.session_id), func.count()).group_by(
                col(SessionEntry.session_id)
            )
        )
        .tuples()
        .all()
    )
    for session_id, deleted_at in connection.execute(
        select(col(SessionLog.id), col(SessionLog.deleted_at))
    ).tuples():
        if deleted_at is None:
            state.sessions[session_id] = int(entries.get(session_id, 0))
        else:
            state.deleted_sessions += 1
    state.duplicate_session_ids = _duplicates(connection, col(SessionLog.id))
    state.duplicate_entries = _duplicates(
        connection, col(SessionEntry.session_id), col(SessionEntry.exercise_id)
    ) + _duplicates(connection, col(SessionEntry.session_id), col(SessionEntry.position))


def _duplicates(connection: Connection, *columns: Any) -> int:
    """Rows sharing a key that should be unique (the constraints say 0; this checks them)."""
    grouped = select(*columns).group_by(*columns).having(func.count() > 1).subquery()
    return int(connection.execute(select(func.count()).select_from(grouped)).scalar_one())


def _enrollments(connection: Connection, state: DatabaseState) -> None:
    for user_id, slug, completed_at in connection.execute(
        select(col(Enrollment.user_id), col(Program.slug), col(Enrollment.completed_at)).join(
            Program, col(Program.id) == col(Enrollment.program_id)
        )
    ).tuples():
        state.completed[(user_id, slug)] = completed_at is not None
    for user_id, slug, reason, count in connection.execute(
        select(col(Enrollment.user_id), col(Program.slug), col(StageChange.reason), func.count())
        .join(Enrollment, col(Enrollment.id) == col(StageChange.enrollment_id))
        .join(Program, col(Program.id) == col(Enrollment.program_id))
        .group_by(col(Enrollment.user_id), col(Program.slug), col(StageChange.reason))
    ).tuples():
        state.stage_changes[(user_id, slug, str(reason))] = int(count)


def _outbox(connection: Connection, state: DatabaseState) -> None:
    for event_type, payload, status in connection.execute(
        select(
            col(OutboxMessage.event_type),
            col(OutboxMessage.payload),
            col(OutboxMessage.status),
        )
    ).tuples():
        state.outbox_rows += 1
        state.outbox_delivered += 1 if status == "delivered" else 0
        data = payload.get("data", {})
        if event_type == "stage.advanced":
            state.stage_events[(data["patient_id"], data["program"], data["by"])] += 1
        elif "session_id" in data:
            state.session_events[(event_type, data["session_id"])] += 1
