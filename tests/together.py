"""Hot writes sent together, as concurrent requests send them: they form one group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from app.core.db import Database
from app.core.group_commit import StagedWork


def submit_together(
    database: Database, works: Sequence[StagedWork[Any]], orders: Sequence[int] | None = None
) -> list[Any]:
    """Send every write from its own task in one go; each outcome is its value or exception.

    Every task queues its write before the group's writer first runs, so all of them are
    written as one group (in `orders`, the people written, as the route gives them)."""
    outcomes: list[Any] = [None] * len(works)

    async def send(index: int, work: StagedWork[Any]) -> None:
        try:
            outcomes[index] = await database.write(work, order=orders[index] if orders else 0)
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc

    async def all_at_once() -> None:
        async with anyio.create_task_group() as group:
            for index, work in enumerate(works):
                group.start_soon(send, index, work)

    anyio.run(all_at_once)
    return outcomes
