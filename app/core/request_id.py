"""Request ids: the caller's `X-Request-ID` when it is sane, else a fresh one.

The id is echoed on every response and kept in a context variable for the
duration of the request, so every log line written while serving it carries
it (sync routes run in worker threads with a copy of the context).
"""

from __future__ import annotations

import secrets
import string
from contextvars import ContextVar

REQUEST_ID_HEADER = b"x-request-id"
MAX_LENGTH = 128
# Printable token characters only: no spaces, quotes or control characters, so the
# id can go into a header, a log line or a problem document as it is.
_ALLOWED = (string.ascii_letters + string.digits + "-_.:+=/@").encode("ascii")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return request_id_var.get()


def new_request_id() -> str:
    return secrets.token_hex(16)


def is_sane(candidate: bytes) -> bool:
    # bytes.translate deletes the allowed characters in C: anything left over is not allowed.
    return 0 < len(candidate) <= MAX_LENGTH and not candidate.translate(None, _ALLOWED)


def accept_or_make(candidate: bytes | None) -> str:
    """The caller's id when it is sane, else a new one."""
    if candidate is not None and is_sane(candidate):
        return candidate.decode("ascii")
    return new_request_id()


def request_id_from_headers(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            return accept_or_make(value)
    return new_request_id()
