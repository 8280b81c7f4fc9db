"""RFC 9457 problem details for every error the API returns.

Services raise `ProblemError` subclasses (no HTTP imports needed there);
one set of handlers renders them, framework errors and unexpected crashes
as `application/problem+json`.

The problem models, the error classes services raise, the one function that
renders a problem, and what the OpenAPI document says of them live here; the
handlers that turn exceptions into problems are in `app.core.problem_handlers`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, ClassVar, Literal

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.core.json import dumps
from app.core.pointers import presented_errors
from app.core.problems import problem_uri

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("app.errors")


class FieldError(BaseModel):
    """One invalid input: where it is, what is wrong, and the machine-readable kind.

    A value in the body is named by `pointer`; a query, path or header parameter by
    `parameter` and `in`.
    """

    model_config = ConfigDict(populate_by_name=True)

    pointer: str | None = Field(
        default=None,
        description="RFC 6901 JSON Pointer to the bad value in the body, e.g. "
        '`/entries/0/pain` (`""` is the whole body).',
    )
    parameter: str | None = Field(
        default=None, description="The name of the bad query, path or header parameter."
    )
    in_: Literal["query", "path", "header", "cookie"] | None = Field(
        default=None, alias="in", description="Where `parameter` is."
    )
    detail: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/not-found",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "No condition with slug 'tennis-elbow'.",
                    "instance": "/v1/conditions/tennis-elbow",
                }
            ]
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ValidationProblem(Problem):
    errors: list[FieldError] = Field(default_factory=list)


class ProblemError(Exception):
    """An error a service may raise; it knows its own HTTP status and problem type."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "about:blank"
    # A refusal that must still record something (a reused refresh token
    # revoking its family) sets this, and the request's session commits.
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class NotFoundError(ProblemError):
    status = 404
    type = "/problems/not-found"


class ConflictError(ProblemError):
    status = 409
    type = "/problems/conflict"


class InvalidInputError(ProblemError):
    status = 422
    type = "/problems/validation-error"

    @classmethod
    def for_field(cls, location: str, detail: str, kind: str = "value_error") -> InvalidInputError:
        """One bad field, at a location written with dots (`body.entries.0.pain`, `query.tz`)."""
        return cls(
            detail,
            extra={"errors": [{"pointer": location, "detail": detail, "type": kind}]},
        )


class UnauthorizedError(ProblemError):
    """No credentials, or credentials that do not hold: 401 with a Bearer challenge."""

    status = 401
    type = "/problems/unauthorized"

    def __init__(self, detail: str, *, invalid_token: bool = False) -> None:
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class ForbiddenError(ProblemError):
    status = 403
    type = "/problems/forbidden"


class PreconditionFailedError(ProblemError):
    """`If-Match` named a version that is no longer current: someone else wrote first."""

    status = 412
    type = "/problems/precondition-failed"


class PayloadTooLargeError(ProblemError):
    status = 413
    type = "/problems/payload-too-large"


class UnsupportedMediaTypeError(ProblemError):
    status = 415
    type = "/problems/unsupported-media-type"


class PreconditionRequiredError(ProblemError):
    """A write that must say which version it was made from (`If-Match`) did not."""

    status = 428
    type = "/problems/precondition-required"


class TooManyRequestsError(ProblemError):
    status = 429
    type = "/problems/rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


# A body that is not JSON (or not readable at all): a 400 of its own type.
MALFORMED_BODY = problem_uri("malformed-body")


def problem_response(
    status: int,
    *,
    detail: str | None,
    instance: str | None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if extra:
        body.update(extra)
        if isinstance(extra.get("errors"), list):
            body["errors"] = presented_errors(extra["errors"])
    return Response(dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# What each status usually means here: the example `/docs` shows for it.
_EXAMPLES: dict[int, tuple[str, str]] = {
    400: ("malformed-body", "The body is not valid JSON: Expecting ',' delimiter at line 1."),
    401: ("unauthorized", "Sign in: this needs a bearer token."),
    403: ("forbidden", "Only the clinic's owners (or an admin) may do this."),
    404: ("not-found", "No such resource, or it is not yours to see."),
    405: ("method-not-allowed", "PATCH is not allowed here; allowed: GET, PUT."),
    409: ("conflict", "This conflicts with the resource's current state."),
    410: ("gone", "This is no longer available."),
    412: ("precondition-failed", "The resource changed since you read it: read it again."),
    413: ("payload-too-large", "The body is larger than 5242880 bytes."),
    415: ("unsupported-media-type", "Send application/json."),
    428: ("precondition-required", "Send If-Match with the ETag you read."),
    429: ("rate-limited", "Too many requests: try again in 60 seconds."),
    503: ("not-ready", "The database is not reachable."),
}


def _example(status: int) -> dict[str, Any]:
    if status == 422:
        detail = "The request has 1 invalid value(s); see `errors`."
        return {
            "type": problem_uri("validation-error"),
            "title": HTTPStatus(422).phrase,
            "status": 422,
            "detail": detail,
            "errors": [
                {
                    "pointer": "/entries/0/pain",
                    "detail": "Input should be less than or equal to 10",
                    "type": "less_than_equal",
                }
            ],
        }
    slug, detail = _EXAMPLES.get(status, ("internal-error", HTTPStatus(status).description))
    return {
        "type": problem_uri(slug),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem documents a route can return, each
    with an example of its own status (the page its `type` resolves to says more)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationProblem if status == 422 else Problem
        schema = {"$ref": f"#/components/schemas/{model.__name__}"}
        responses[status] = {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema, "example": _example(status)}},
        }
    return responses
