"""Every problem type the API answers with, in one registry.

A problem's `type` is a URI (`/problems/not-found`) that resolves to a page
built from this registry, so an integrator who meets an unfamiliar problem can
read what it means and what to do. A type that is not listed here fails
`tests/core/test_problem_pages.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

PROBLEM_BASE = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    title: str
    status: int
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


_TYPES = (
    ProblemType(
        "malformed-body",
        "Malformed body",
        400,
        "The request body could not be read: not valid JSON (the detail and `position` say "
        "where it broke), not UTF-8, or nested too deeply. Fix the body and send it again.",
    ),
    ProblemType(
        "bad-request",
        "Bad request",
        400,
        "A FHIR request the interface cannot carry out as asked; the detail says why.",
    ),
    ProblemType(
        "oauth",
        "OAuth error",
        400,
        "The token endpoint refused the request (RFC 6749 section 5.2): `error` names the "
        "OAuth error code (401 for `invalid_client`). The endpoint takes form fields "
        "(`application/x-www-form-urlencoded`), not JSON.",
    ),
    ProblemType(
        "invalid-grant",
        "Invalid grant",
        400,
        "The credentials, refresh token or client secret given to the token endpoint do not hold.",
    ),
    ProblemType(
        "invalid-token",
        "Spent one-time token",
        409,
        "A one-time token (address verification, password reset, invitation) is unknown, "
        "already used or expired. Ask for a new one.",
    ),
    ProblemType(
        "unauthorized",
        "Unauthorized",
        401,
        "No bearer token, or one that does not hold (expired, revoked, for another use). "
        "Sign in again or refresh the access token.",
    ),
    ProblemType(
        "mfa-required",
        "Second factor required",
        400,
        "The password was right; the sign-in needs a one-time code from the authenticator app.",
    ),
    ProblemType(
        "second-factor-required",
        "Second factor must be set up",
        403,
        "Staff must set up a second factor before this action (MFA_REQUIRED_FOR_STAFF).",
    ),
    ProblemType(
        "reauthentication-required",
        "Recent sign-in required",
        403,
        "This action needs the current password (or a recent sign-in) to confirm it.",
    ),
    ProblemType(
        "email-not-verified",
        "Address not verified",
        403,
        "The account's email address must be verified first.",
    ),
    ProblemType(
        "forbidden",
        "Forbidden",
        403,
        "The caller is known but may not do this: the wrong role, or an API client without "
        "the scope the route needs.",
    ),
    ProblemType(
        "not-found",
        "Not found",
        404,
        "Nothing is at this address for this caller. Another clinic's or person's data "
        "answers this too, exactly as if it did not exist.",
    ),
    ProblemType(
        "method-not-allowed",
        "Method not allowed",
        405,
        "The path exists but does not take this method; the `Allow` header lists those it takes.",
    ),
    ProblemType(
        "not-acceptable",
        "Not acceptable",
        406,
        "The `Accept` header asks for a format this endpoint does not produce.",
    ),
    ProblemType(
        "conflict",
        "Conflict",
        409,
        "The request is well-formed but conflicts with the current state (a duplicate, a "
        "limit reached, a one-time token already spent).",
    ),
    ProblemType(
        "not-enrolled",
        "Not enrolled",
        409,
        "A session for a program the person does not follow. Enrol in the program first.",
    ),
    ProblemType(
        "stage-not-reached",
        "Stage not reached",
        409,
        "A session for a stage above the one the person has reached in that program.",
    ),
    ProblemType(
        "advance-refused",
        "Advance refused",
        409,
        "The stage's advance rule is not met yet; the detail says what remains.",
    ),
    ProblemType(
        "gone",
        "Gone",
        410,
        "The resource existed and has been removed (a session its owner deleted).",
    ),
    ProblemType(
        "precondition-failed",
        "Precondition failed",
        412,
        "`If-Match` names a version that is no longer current: someone else wrote first. "
        "Read the resource again (its ETag is in `current_etag`) and retry on that.",
    ),
    ProblemType(
        "payload-too-large",
        "Payload too large",
        413,
        "The body is larger than this endpoint accepts.",
    ),
    ProblemType(
        "unsupported-media-type",
        "Unsupported media type",
        415,
        "The body's `Content-Type` is not one this endpoint reads.",
    ),
    ProblemType(
        "validation-error",
        "Invalid input",
        422,
        "Some values are invalid. Each entry of `errors` names one: `pointer` is a JSON "
        "Pointer (RFC 6901) into the body (`/entries/0/pain`); for a query, path or header "
        "parameter, `parameter` names it and `in` says where it is.",
    ),
    ProblemType(
        "precondition-required",
        "Precondition required",
        428,
        "This write must say which version it was made from: send the ETag from a read in "
        "an `If-Match` header.",
    ),
    ProblemType(
        "rate-limited",
        "Too many requests",
        429,
        "Too many requests in a short time; `Retry-After` says how many seconds to wait.",
    ),
    ProblemType(
        "internal-error",
        "Internal error",
        500,
        "Something failed on the server. It has been logged with the request id.",
    ),
    ProblemType(
        "not-ready",
        "Not ready",
        503,
        "The service is starting or cannot reach what it depends on; try again shortly.",
    ),
)

PROBLEM_TYPES: dict[str, ProblemType] = {problem.slug: problem for problem in _TYPES}


def problem_uri(slug: str) -> str:
    """The `type` URI of a registered problem; an unregistered slug is a programming error."""
    return PROBLEM_TYPES[slug].uri
