"""Where a bad value is: RFC 6901 JSON Pointers into the body, or a parameter's name.

Services name a field the way validation locations read (`body.entries.0.pain`,
`query.tz`); what the API shows is a JSON Pointer into the body
(`/entries/0/pain`) or, for a query, path or header parameter, its name and
place. The conversion happens here, as a response is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def json_pointer(path: Sequence[int | str]) -> str:
    """An RFC 6901 JSON Pointer to `path` (`~` and `/` inside a name are escaped)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def locate(loc: Sequence[int | str]) -> dict[str, str]:
    """Where a bad value is, from a validation location (`("body", "entries", 0, "pain")`).

    A value in the body gets a JSON Pointer into it; a parameter its name and place.
    """
    if not loc:
        return {"pointer": ""}
    where, *path = loc
    if where == "body":
        return {"pointer": json_pointer(path)}
    if where in ("query", "path", "header", "cookie"):
        return {"parameter": ".".join(str(part) for part in path), "in": str(where)}
    return {"pointer": json_pointer(loc)}


def locate_dotted(location: str) -> dict[str, str]:
    """`locate` for a location written with dots, as services name fields (`body.entries.0`)."""
    return locate(location.split(".")) if location else {"pointer": ""}


def presented_errors(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Field errors as the API shows them: each `pointer` written with dots becomes a location."""
    shown: list[dict[str, Any]] = []
    for error in errors:
        pointer = error.get("pointer")
        if isinstance(pointer, str) and not pointer.startswith("/") and pointer:
            rest = {key: value for key, value in error.items() if key != "pointer"}
            shown.append({**locate_dotted(pointer), **rest})
        else:
            shown.append(error)
    return shown
