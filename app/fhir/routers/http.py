"""HTTP for the FHIR interface: its media type, and errors as OperationOutcome.

Every FHIR route uses `FhirRoute`, which turns whatever a dependency or the
route raises - the clinic's 404 for outsiders, 401 without a token, 403
without the `fhir:read` scope, 400 for a bad parameter - into an
OperationOutcome, and answers a method the route does not serve with a 405
OperationOutcome. The rest of the API keeps its problem documents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from app.core.errors import ProblemError
from app.core.http_cache import PRIVATE
from app.core.json import dumps
from app.fhir.codes import Json
from app.fhir.outcome import operation_outcome, outcome_for

FHIR_JSON = "application/fhir+json"
FHIR_PREFIX = "/fhir/R4"
logger = logging.getLogger("app.fhir")


class FhirResponse(Response):
    media_type = FHIR_JSON

    def __init__(self, content: Json, status_code: int = 200, **kwargs: Any) -> None:
        headers = {"Cache-Control": PRIVATE, **(kwargs.pop("headers", None) or {})}
        super().__init__(dumps(content), status_code=status_code, headers=headers, **kwargs)


def outcome_response(
    status: int, detail: str, headers: dict[str, str] | None = None
) -> FhirResponse:
    return FhirResponse(outcome_for(status, detail), status_code=status, headers=headers)


def _validation_outcome(exc: RequestValidationError) -> FhirResponse:
    errors = exc.errors()
    if any(error["loc"] and error["loc"][0] == "path" for error in errors):
        return outcome_response(404, "No such resource.")
    issues = [
        {
            "severity": "error",
            "code": "invalid",
            "diagnostics": f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}",
        }
        for error in errors
    ]
    return FhirResponse(operation_outcome(*issues), status_code=400)


class FhirRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ProblemError as exc:
                status = 400 if exc.status == 422 else exc.status
                return outcome_response(status, exc.detail, exc.headers)
            except RequestValidationError as exc:
                return _validation_outcome(exc)
            except HTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else None
                headers = dict(exc.headers) if exc.headers else None
                return outcome_response(
                    exc.status_code, detail or HTTPStatus(exc.status_code).phrase, headers
                )

        return fhir_handler

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allowed = ", ".join(sorted(self.methods))
            response = outcome_response(
                405, f"This FHIR server is read-only here: {allowed}.", {"Allow": allowed}
            )
            await response(scope, receive, send)
            return
        await super().handle(scope, receive, send)


def fhir_base(request: Request, clinic_id: int) -> str:
    """This clinic's FHIR base URL, as the caller reached the API."""
    return f"{api_root(request)}/v1/clinics/{clinic_id}{FHIR_PREFIX}"


def api_root(request: Request) -> str:
    return str(request.base_url).rstrip("/")
