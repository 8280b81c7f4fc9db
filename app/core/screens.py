"""A person's screen in their time zone (progress, today), answered from a short-lived cache.

Kept per person, content version, zone and local date (a screen is never served on the
day after), and forgotten the moment the person's standing changes (`app.core.changes`).
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response

from app.core.changes import user_owner
from app.core.db import Database
from app.core.deps import DATABASE
from app.core.http_cache import PRIVATE
from app.core.json import JSONBytesResponse
from app.core.models import utcnow
from app.core.state import StateKey
from app.core.token_cache import TokenCache

Render = Callable[[Database, ZoneInfo], bytes]


async def person_screen(
    request: Request,
    screens: StateKey[TokenCache[bytes]],
    *,
    user_id: int,
    content_version: int,
    tz: str,
    render: Render,
) -> Response:
    """`render(database, zone)` the screen, or the one kept for the same person and day."""
    zone = ZoneInfo(tz)
    key = f"{user_id}|{content_version}|{tz}|{utcnow().astimezone(zone).date()}"
    database = DATABASE.of(request)
    body = await screens.of(request).get_or_load(
        key, lambda: render(database, zone), lambda _: user_owner(user_id)
    )
    return JSONBytesResponse(body, headers={"Cache-Control": PRIVATE})
