"""Fast JSON encoding (orjson) and the response class that uses it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class JSONBytesResponse(JSONResponse):
    """A JSON response whose body is encoded with orjson (or given as ready bytes).

    A JSONResponse subclass so OpenAPI documents the route's response model.
    """

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return dumps(content)
