"""OperationOutcome: how the FHIR interface says what went wrong (pure, no HTTP).

Services raise the API's usual problem errors (and the few below that only FHIR
needs); the FHIR routes render every one of them as an OperationOutcome with
the issue code FHIR expects for its status.
"""

from __future__ import annotations

from app.core.errors import ProblemError
from app.fhir.codes import Json

ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    413: "too-costly",
    422: "processing",
    429: "throttled",
}


class BadRequestError(ProblemError):
    """A search or operation parameter the server cannot use (FHIR answers 400)."""

    status = 400
    type = "/problems/bad-request"


class GoneError(ProblemError):
    """The resource existed and was deleted (a session the patient deleted)."""

    status = 410
    type = "/problems/gone"


class NotAcceptableError(ProblemError):
    status = 406
    type = "/problems/not-acceptable"


def issue(status: int, detail: str, *, severity: str | None = None) -> Json:
    return {
        "severity": severity or ("error" if status >= 400 else "information"),
        "code": ISSUE_CODES.get(status, "exception"),
        "diagnostics": detail,
    }


def operation_outcome(*issues: Json) -> Json:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


def outcome_for(status: int, detail: str) -> Json:
    return operation_outcome(issue(status, detail))
