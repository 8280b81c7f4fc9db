"""Progress lines on stderr (stdout is kept for the results table)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Log = Callable[[str], None]

_STARTED = time.monotonic()


def log(message: str) -> None:
    """One timestamped progress line: a long run should never look stuck."""
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def elapsed() -> float:
    return time.monotonic() - _STARTED
