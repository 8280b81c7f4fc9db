"""Fast JSON encoding (orjson) and the response class that uses it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class JSONBytesResponse(Response):
    """A JSON response whose body is encoded with orjson (or given as ready bytes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return dumps(content)
