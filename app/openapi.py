"""The OpenAPI document: tags, both OAuth2 flows, problem schemas and the webhooks section.

FastAPI writes the paths from the routes; this adds what routes cannot say:
how an API client gets its token, and what the clinic's receiver is sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.clinics.event_schemas import EVENT_BODIES, EVENT_DOCS, PING
from app.clinics.models import Scope
from app.core.errors import Problem, ValidationProblem
from app.core.limits import document_body_limits

TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a path, not a secret)
SECURITY_SCHEME = "OAuth2PasswordBearer"

TAGS: list[dict[str, Any]] = [
    {"name": "conditions", "description": "What hurts, and which programs treat it."},
    {"name": "programs", "description": "Programs in ordered stages, each with its advance rule."},
    {
        "name": "exercises",
        "description": "Exercises: a public teaser, premium content when unlocked.",
    },
    {
        "name": "auth",
        "description": "Accounts and tokens: register, sign in (OAuth2 password flow; "
        "client_credentials for a clinic's API clients), refresh, sign out, verify, reset.",
    },
    {"name": "me", "description": "The signed-in person's own account."},
    {
        "name": "progress",
        "description": "Programs you follow, each stage's advance rule, advancing, progress.",
    },
    {
        "name": "sessions",
        "description": "Logging sessions by client UUID (safe to retry), batch sync, change feed.",
    },
    {
        "name": "outcomes",
        "description": "Questionnaires due and their answers (scored by the server), today's "
        "home screen, reminders.",
    },
    {
        "name": "clinics",
        "description": "Clinics and their staff. Everything under `/v1/clinics/{clinic_id}` "
        "answers 404 to anyone outside the clinic.",
    },
    {
        "name": "clinic staff",
        "description": "Joining a clinic's staff: an owner invites an address, its verified "
        "owner accepts.",
    },
    {
        "name": "clinic patients",
        "description": "Patients linked with consent: invitation codes, the patient list, "
        "their programs, stages, sessions, progress and handouts.",
    },
    {
        "name": "clinic outcomes",
        "description": "Scheduling questionnaires for patients, reading their scored answers, "
        "the adherence threshold behind `adherence.low`.",
    },
    {
        "name": "clinic programs",
        "description": "The clinic's own programs, seen only by its staff and the patients "
        "it assigns them to. Writes need If-Match with the program's ETag.",
    },
    {
        "name": "clinic API clients",
        "description": "Credentials for practice software (OAuth2 client_credentials), "
        "each with its scopes.",
    },
    {
        "name": "clinic webhooks",
        "description": "Subscriptions to the events in this document's `webhooks` section, "
        "signed as Standard Webhooks; delivery logs and redelivery.",
    },
    {
        "name": "clinic access log",
        "description": "Who read which patient's data through the clinic, and when.",
    },
    {
        "name": "clinic links",
        "description": "A patient's consent: redeem a clinic's code, list, withdraw at any time.",
    },
    {"name": "media", "description": "Teaser images, and premium media through signed links."},
    {
        "name": "admin",
        "description": "Content management for admins: drafts, publishing, stages, media, "
        "the audit trail. Writes need If-Match with the document's ETag.",
    },
    {"name": "operations", "description": "Liveness and readiness probes."},
    {
        "name": "problems",
        "description": "What each error `type` means: the pages its URI resolves to.",
    },
]

SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.PATIENTS_READ: "The patient list, each patient's programs, sessions and progress.",
    Scope.PROGRAMS_READ: "The clinic's own programs, drafts included.",
    Scope.PROGRAMS_WRITE: "Build and edit them, assign programs, set stages "
    "(implies programs:read).",
    Scope.WEBHOOKS_MANAGE: "Subscribe, edit and ping webhooks; read delivery logs.",
    Scope.FHIR_READ: "The clinic's FHIR R4 base: read, search, $everything, bulk export.",
}

WEBHOOK_HEADERS = [
    ("webhook-id", "The event id, the same on every retry: drop repeats by it."),
    ("webhook-timestamp", "Unix seconds when this attempt was sent."),
    (
        "webhook-signature",
        "`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed with "
        "the base64-decoded secret (`whsec_...`); during a rotation, one per secret, "
        "space-separated. Verify with any Standard Webhooks library.",
    ),
]


def install_openapi(app: FastAPI) -> None:
    """Build the document once, on first request, from the routes and the additions below."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(_schemas_of([Problem, ValidationProblem]))
        schemas.update(_schemas_of(list(EVENT_BODIES.values())))
        document["webhooks"] = webhooks_section()
        _add_client_credentials(document)
        document_body_limits(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _schemas_of(models: list[type[BaseModel]]) -> dict[str, Any]:
    _, found = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    defs: dict[str, Any] = found.get("$defs", {})
    return defs


def webhooks_section() -> dict[str, Any]:
    """One entry per event type: the POST a subscribed receiver gets (OpenAPI 3.1)."""
    section: dict[str, Any] = {}
    for event_type, body in EVENT_BODIES.items():
        doc = EVENT_DOCS[event_type]
        section[event_type] = {
            "post": {
                "operationId": f"webhook_{event_type.replace('.', '_')}",
                "summary": doc.summary,
                "description": _delivery_description(event_type),
                "tags": ["clinic webhooks"],
                "parameters": [
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": text,
                        "schema": {"type": "string"},
                    }
                    for name, text in WEBHOOK_HEADERS
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{body.__name__}"}
                        }
                    },
                },
                "responses": {"2XX": {"description": "Received; any other answer is retried."}},
            }
        }
    return section


def _delivery_description(event_type: str) -> str:
    who = (
        "the one subscription pinged"
        if event_type == PING
        else f"every subscription that lists `{event_type}`"
    )
    return f"Sent to {who}; retried with backoff until the receiver answers 2xx."


def _add_client_credentials(document: dict[str, Any]) -> None:
    """FastAPI knows the password flow from the dependency; API clients use the other."""
    scheme = document["components"].get("securitySchemes", {}).get(SECURITY_SCHEME)
    if scheme is None:
        return
    scheme["description"] = (
        "People sign in with the password flow (email as `username`). A clinic's API "
        "client uses the client_credentials flow (form fields or HTTP Basic) and gets "
        "the scopes it was given; scopes do not apply to people."
    )
    scheme["flows"]["clientCredentials"] = {
        "tokenUrl": TOKEN_URL,
        "scopes": {scope.value: SCOPE_DESCRIPTIONS[scope] for scope in Scope},
    }
