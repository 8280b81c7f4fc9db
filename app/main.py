"""The application factory: settings in, a ready FastAPI app out (no work at import)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from app.access.policy import Viewer
from app.access.router import router as media_router
from app.access.viewer_cache import TokenCache
from app.admin.router import router as admin_router
from app.catalog.cache import CatalogCache
from app.catalog.response_cache import CatalogResponseCache
from app.catalog.router import router as catalog_router
from app.clinics.delivery import DeliverySettings, WebhookWorker
from app.clinics.router import me_router as clinic_links_router
from app.clinics.router import router as clinics_router
from app.clinics.webhooks import SecretBox
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.docs import install_docs
from app.core.errors import Problem, ValidationProblem, install_problem_handlers
from app.core.health import router as health_router
from app.core.http_cache import ETagMiddleware
from app.core.jwt import TokenCodec
from app.core.limits import BodyLimitMiddleware, document_body_limits
from app.core.media import MediaSigner
from app.core.observability import install_observability
from app.core.ratelimit import RateLimiter
from app.core.secrets import resolve_secret_key
from app.identity.router import router as identity_router
from app.identity.service import Principal
from app.progress.router import router as progress_router

DESCRIPTION = """
Musculoskeletal rehabilitation content: **conditions**, the **programs** that
treat them in ordered **stages**, and the **exercises** of each stage with their
dosage.

Sign in with **Authorize** (your email and password): the API decides, for
you, which exercises come back unlocked.

Every exercise comes back either `locked` (a public teaser, with a `lock`
object saying why and how to unlock it) or `unlocked` (video, instructions,
cues, common mistakes, precautions). Errors are RFC 9457
`application/problem+json` documents.
"""

TAGS: list[dict[str, Any]] = [
    {"name": "conditions", "description": "What hurts, and which programs treat it."},
    {"name": "programs", "description": "Programs in ordered stages, each with its advance rule."},
    {
        "name": "exercises",
        "description": "Exercises: a public teaser, premium content when unlocked.",
    },
    {
        "name": "auth",
        "description": "Accounts and tokens: register, sign in (OAuth2 password flow), "
        "refresh, sign out.",
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
        "name": "clinics",
        "description": "Clinics, clinicians, patient invitations, linked patients, program "
        "assignment and stage overrides, API clients, webhooks. Outsiders get 404.",
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
]


def delivery_settings(settings: Settings) -> DeliverySettings:
    return DeliverySettings(
        max_attempts=settings.webhook_max_attempts,
        backoff_seconds=settings.webhook_backoff_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private_targets,
    )


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the app. Pass `database` to share an engine (the tests do); else one is made."""
    settings = settings or get_settings()
    owns_database = database is None
    database = database or Database.from_settings(settings)
    secret = resolve_secret_key(settings)
    media = MediaSigner(
        secret, base_url=settings.media_base_url, ttl_seconds=settings.media_link_seconds
    )

    box = SecretBox(secret)
    worker = WebhookWorker(database, box, delivery_settings(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if settings.webhook_worker:
            # On SQLite one process delivers; on PostgreSQL every instance may (SKIP LOCKED).
            thread = threading.Thread(
                target=worker.run_forever,
                args=(settings.webhook_poll_seconds, stop),
                name="webhook-worker",
                daemon=True,
            )
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=settings.webhook_timeout_seconds + settings.webhook_poll_seconds)
        if owns_database:
            database.dispose()

    app = FastAPI(
        title="Rehab API",
        version="1.0.0",
        summary="Rehabilitation conditions, staged programs and exercises.",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.media = media
    app.state.tokens = TokenCodec(
        secret=secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    app.state.rate_limiter = RateLimiter(storage_uri=settings.redis_url)
    app.state.webhook_box = box
    app.state.viewers = TokenCache[Viewer](settings.viewer_cache_seconds)
    app.state.principals = TokenCache[Principal](settings.viewer_cache_seconds)
    app.state.progress_reports = TokenCache[bytes](settings.viewer_cache_seconds)
    app.state.webhook_worker = worker
    app.state.catalog = CatalogCache(
        database, media_url=media.public_url, poll_seconds=settings.content_poll_seconds
    )

    install_problem_handlers(app)
    install_docs(app)
    # Innermost first.
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    # Repeat catalogue reads (anonymous, or by a viewer checked lately) are answered
    # here, before routing.
    app.add_middleware(CatalogResponseCache)
    app.add_middleware(ETagMiddleware)
    # Request ids, logs, metrics, security headers (outermost), and CORS when configured.
    install_observability(app, settings)
    # Routes match in order: the most requested first (catalogue reads, then a person's own).
    app.include_router(catalog_router)
    app.include_router(progress_router)
    app.include_router(identity_router)
    app.include_router(health_router)
    app.include_router(clinics_router)
    app.include_router(clinic_links_router)
    app.include_router(media_router)
    app.include_router(admin_router)
    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    """Add the problem document schemas that error responses refer to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        _, problem_schemas = models_json_schema(
            [(Problem, "serialization"), (ValidationProblem, "serialization")],
            ref_template="#/components/schemas/{model}",
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            problem_schemas.get("$defs", {})
        )
        document_body_limits(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
