"""Adherence: sessions done against what the stage prescribes, over the last 7 and 28 days.

Pure, so the edges are checked by hand in `tests/outcomes/test_adherence.py`.
What a stage prescribes is `progress.report.prescribed_per_week` (its most
frequent exercise's days a week x times a day), the same number the person's own
progress screen shows. A window longer than the enrollment counts only the
days since it started, so a patient who started yesterday is not "behind" on
a month. More sessions than planned count as 100%, and the count says how many.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOWS = (7, 28)


@dataclass(frozen=True, slots=True)
class Adherence:
    days: int
    sessions: int
    planned: int | None  # None: the stage prescribes nothing to count against
    percent: int | None


def percent_done(sessions: int, planned: int) -> int:
    """Sessions done as a share of `planned` (> 0); more than planned is 100%."""
    return min(100, round(100 * sessions / planned))


def adherence(
    *,
    session_times: Iterable[datetime],
    per_week: int,
    started_at: datetime,
    now: datetime,
    days: int,
) -> Adherence:
    """Sessions in the `days` before `now` against `per_week` prescribed sessions."""
    since = now - timedelta(days=days)
    done = sum(1 for moment in session_times if since < moment <= now)
    if per_week <= 0:
        return Adherence(days=days, sessions=done, planned=None, percent=None)
    enrolled_days = max(1, math.ceil((now - started_at) / timedelta(days=1)))
    span = min(days, enrolled_days)
    planned = max(1, round(per_week * span / 7))
    return Adherence(days=days, sessions=done, planned=planned, percent=percent_done(done, planned))
