"""The change feed: a person's sessions changed since a cursor, deletions included.

Every change takes the person's next change number (`seq`); a cursor is the
last number a device has seen.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.catalog.models import Exercise
from app.core.errors import InvalidInputError
from app.progress.models import SessionEntry, SessionLog
from app.progress.scope import ProgramScope

FEED_PAGE = 100
MAX_SEQ = 2**62  # a change number's column holds 64 bits: a cursor past it names nothing


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
        seq = int(number)
        if not 0 <= seq <= MAX_SEQ:
            raise ValueError(number)
        return seq
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
    scope: ProgramScope,
    limit: int = FEED_PAGE,
) -> FeedPage:
    """Sessions changed after `since` that the reader may see, deletions included,
    oldest change first."""
    query = (
        select(SessionLog)
        .where(
            SessionLog.user_id == user_id,
            col(SessionLog.seq) > since,
            scope.rows(col(SessionLog.program_id)),
        )
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
