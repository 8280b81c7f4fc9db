"""Structured logs: JSON lines outside development, every line scrubbed of secrets.

`configure_logging` installs one handler on the `app` logger (and, for
`rehab serve`, on uvicorn's loggers) through `logging.config.dictConfig`.
The handler's filters add the request id and redact anything that looks like
a password, a token, a secret or an `Authorization`/`Cookie` value, in the
message, its arguments, extra fields and tracebacks alike. Records still
propagate to the root logger, so pytest's `caplog` sees them (redacted).
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from app.core.config import Settings
from app.core.request_id import current_request_id

REDACTED = "[REDACTED]"
ACCESS_LOGGER = "app.access"
# Set on a record once scrubbed (the access log's records are built clean), so a
# record passing through several handlers is scrubbed once.
SCRUBBED = "scrubbed"

_SENSITIVE_WORDS = (
    r"password|passwd|passphrase|secret|token|authorization|cookie|signature|api[_-]?key|credential"
)
_SENSITIVE_NAME = re.compile(_SENSITIVE_WORDS, re.IGNORECASE)
_QUOTED = r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # A cookie header's value runs to the end of the line, whatever it contains.
    (re.compile(r"(?i)\b((?:set-)?cookie[\"']?\s*[:=]\s*)[^\n]*"), rf"\1{REDACTED}"),
    # Header pairs as Python prints them: (b'authorization', b'Bearer ...').
    (
        re.compile(rf"(?i)(b?['\"](?:authorization|(?:set-)?cookie)['\"],\s*b?)(?:{_QUOTED})"),
        rf"\1'{REDACTED}'",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # key=value, key: value, "key": "value" (query strings, forms, JSON, dict reprs).
    (
        re.compile(
            rf"(?i)([\"']?[\w.-]*(?:{_SENSITIVE_WORDS})[\w.-]*[\"']?\s*[:=]\s*)"
            rf"(?!\[REDACTED\])(?:{_QUOTED}|[^\s&,;)}}\]]+)"
        ),
        rf"\1{REDACTED}",
    ),
    # JWTs (access, refresh and client tokens) wherever they appear.
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),
    (re.compile(r"\bwhsec_[\w-]+"), f"whsec_{REDACTED}"),
    # Pydantic repeats rejected input in its messages (a too-short password, say).
    (re.compile(rf"input_value=(?:{_QUOTED}|[^,\]]+)"), f"input_value={REDACTED}"),
)
_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", SCRUBBED, "color_message"}  # uvicorn's ANSI copy
)


class SparseWarnings:
    """At most one warning of each kind per `every_seconds`: a failure that repeats on
    every request or every retry (a bus down, a database restarting) must not flood the log."""

    def __init__(self, logger: logging.Logger, every_seconds: float) -> None:
        self._logger = logger
        self._every = every_seconds
        self._last: dict[str, float] = {}

    def warn(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, float("-inf")) >= self._every:
            self._last[kind] = now
            self._logger.warning(message, *args)


def redact(text: str) -> str:
    """The text with every password, token, secret and credential header value replaced."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a filter must never raise into the code that logged
        return f"{record.msg} (arguments did not fit the message: {record.args!r})"


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the request being served, or None outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class RedactingFilter(logging.Filter):
    """Scrubs a record in place before any handler formats it."""

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SCRUBBED, False):
            return True
        record.msg = redact(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extra_fields(record).items():
            if _SENSITIVE_NAME.search(key):
                setattr(record, key, REDACTED)
            elif isinstance(value, str):
                setattr(record, key, redact(value))
        setattr(record, SCRUBBED, True)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update(_extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (pytest swaps it per test)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def logging_config(settings: Settings, *, uvicorn: bool = False) -> dict[str, Any]:
    """The dictConfig for the app's loggers, and for uvicorn's when `uvicorn` is true."""
    formatter = JsonFormatter if settings.resolved_log_format == "json" else TextFormatter
    ours = {"handlers": ["console"], "level": settings.log_level, "propagate": True}
    loggers: dict[str, dict[str, Any]] = {"app": ours}
    if uvicorn:
        theirs = {"handlers": ["console"], "level": settings.log_level, "propagate": False}
        loggers |= {"uvicorn": theirs, "uvicorn.error": {"level": settings.log_level}}
        loggers["uvicorn.access"] = theirs  # off by default: the app writes its own access log
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}, "redact": {"()": RedactingFilter}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "console": {
                "()": StderrHandler,
                "formatter": "default",
                "filters": ["request_id", "redact"],
            }
        },
        "loggers": loggers,
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
