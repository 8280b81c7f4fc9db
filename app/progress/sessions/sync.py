"""A batch of sessions from an offline phone: each item answered on its own.

Each item is written in its own savepoint, so an invalid one is `rejected` with
its reasons and never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from app.catalog.snapshot import CatalogSnapshot
from app.core.errors import ProblemError
from app.core.group_commit import run_through
from app.core.pointers import locate, presented_errors
from app.progress.schemas import SessionIn, SyncItem
from app.progress.sessions.write import StoredSession, put_session


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
                {**locate(("body", "sessions", index, *err["loc"])), "detail": err["msg"]}
                for err in exc.errors()
            ]
            results.append(
                SyncResultItem(raw_id, "rejected", detail="Invalid session.", errors=errors)
            )
            continue
        body = SessionIn.model_validate(item.model_dump(exclude={"id"}))
        try:
            with session.begin_nested():
                written = run_through(
                    put_session(
                        session,
                        user_id=user_id,
                        session_id=item.id,
                        body=body,
                        snapshot=snapshot,
                        now=now,
                    )
                )
        except ProblemError as exc:
            # Point into the batch, as validation errors do: /X -> /sessions/N/X
            errors = presented_errors(
                [
                    {
                        **error,
                        "pointer": error["pointer"].replace("body", f"body.sessions.{index}", 1),
                    }
                    for error in exc.extra.get("errors") or []
                ]
            )
            results.append(
                SyncResultItem(str(item.id), "rejected", detail=exc.detail, errors=errors)
            )
            continue
        results.append(SyncResultItem(str(item.id), written.outcome.value, log=written.log))
    return results
