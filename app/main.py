"""The application factory: settings in, a ready FastAPI app out (no work at import)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.accounts.routers import me as accounts_me
from app.accounts.routers import mfa as accounts_mfa
from app.accounts.routers import operators as accounts_operators
from app.authoring.routers import audit as admin_audit
from app.authoring.routers import content as admin_content
from app.authoring.routers import media as admin_media
from app.authoring.routers import stages as admin_stages
from app.care.routers import outcomes as care_outcomes
from app.care.routers import patients as care_patients
from app.care.routers import programs as care_programs
from app.catalog.cache import CatalogCache
from app.catalog.deps import CATALOG, VIEWERS
from app.catalog.response_cache import CatalogResponseCache
from app.catalog.routers import content as catalog_content
from app.catalog.routers import media as catalog_media
from app.clinics.access_log import ACCESS_LOG, AccessLog
from app.clinics.delivery import WebhookSender
from app.clinics.routers import access_log, api_clients, invitations, links, staff, webhooks
from app.clinics.routers import clinics as clinics_routes
from app.clinics.service import INVITATION_CODES, CodeHasher
from app.clinics.webhooks import SECRET_BOX, WEBHOOK_SECRETS
from app.core.buses import bus_for
from app.core.changes import CacheReactor
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.deps import DATABASE, MEDIA_SIGNER, SETTINGS
from app.core.docs import install_docs
from app.core.health import router as health_router
from app.core.heap import settled_heap
from app.core.http_cache import ETagMiddleware
from app.core.jwt import TokenCodec
from app.core.limits import BodyLimitMiddleware
from app.core.media import MediaSigner
from app.core.observability import install_observability
from app.core.problem_handlers import install_problem_handlers
from app.core.problem_pages import router as problem_pages_router
from app.core.ratelimit import RATE_LIMITER, RateLimiter
from app.core.relay import ChangeRelay
from app.core.secrets import SecretBox, resolve_secret_key
from app.core.state import StateKey
from app.core.token_cache import TokenCache
from app.fhir.export import EXPORT_LINKS, export_links
from app.fhir.routers import bulk as fhir_bulk
from app.fhir.routers import resources as fhir_resources
from app.handouts import router as handouts
from app.identity.auth import AUTHENTICATOR, Authenticator
from app.identity.deps import TOKEN_CODEC
from app.identity.mfa import SECOND_FACTOR_KEYS, SecondFactorKeys
from app.identity.routers import auth as identity_auth
from app.identity.routers import mail as identity_mail
from app.identity.routers import me as identity_me
from app.openapi import TAGS, install_openapi
from app.outbox.mail import (
    ConsoleTransport,
    FileTransport,
    MailSender,
    SmtpSecurity,
    SmtpTransport,
    Transport,
)
from app.outbox.models import Channel
from app.outbox.worker import OutboxWorker, Pacing, RetryPolicy, Sender
from app.outcomes.routers import admin as outcomes_admin
from app.outcomes.routers import me as outcomes_me
from app.outcomes.routers.me import TODAY_SCREENS
from app.outcomes.sweeps import Sweeps
from app.progress.routers import routers as progress_routers
from app.progress.routers.progress import PROGRESS_REPORTS
from app.progress.viewer import Viewers

OUTBOX_WORKER = StateKey[OutboxWorker]("outbox_worker")
CACHE_REACTOR = StateKey[CacheReactor]("cache_reactor")
CHANGE_RELAY = StateKey[ChangeRelay]("change_relay")

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


def mail_transport(settings: Settings) -> Transport:
    """The mail backend the settings name: printed, written to files, or sent over SMTP."""
    if settings.mail_backend == "smtp":
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=SmtpSecurity(settings.smtp_security),
            username=settings.smtp_username,
            password=password,
            timeout_seconds=settings.smtp_timeout_seconds,
        )
    if settings.mail_backend == "file":
        return FileTransport(settings.mail_file_dir)
    return ConsoleTransport()


def outbox_worker(settings: Settings, database: Database, box: SecretBox) -> OutboxWorker:
    """The worker that sends the outbox: webhooks to clinics, mail to people."""
    senders: dict[Channel, Sender] = {
        Channel.WEBHOOK: WebhookSender(
            database,
            box,
            timeout_seconds=settings.webhook_timeout_seconds,
            allow_private=settings.webhook_allow_private_targets,
        ),
        Channel.MAIL: MailSender(
            mail_transport(settings),
            sender=settings.mail_from,
            timeout_seconds=settings.smtp_timeout_seconds,
        ),
    }
    retry = RetryPolicy(
        max_attempts=settings.webhook_max_attempts, backoff_seconds=settings.webhook_backoff_seconds
    )
    return OutboxWorker(
        database,
        senders,
        retry,
        pacing=Pacing(lanes=settings.outbox_lanes),
        lease_seconds=settings.outbox_lease_seconds,
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

    box = SecretBox(secret, purpose=WEBHOOK_SECRETS)
    worker = outbox_worker(settings, database, box)
    sweeps = Sweeps(database, adherence_every_seconds=settings.adherence_check_minutes * 60)
    reads = AccessLog(
        database,
        flush_seconds=settings.access_log_flush_seconds,
        retention=timedelta(days=settings.access_log_days),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        threads: list[threading.Thread] = []
        if settings.webhook_worker:
            # On SQLite one process delivers; on PostgreSQL every instance may (SKIP LOCKED).
            threads.append(
                threading.Thread(
                    target=worker.run_forever,
                    args=(settings.webhook_poll_seconds, stop),
                    name="outbox-worker",
                    daemon=True,
                )
            )
            # What sends the outbox also fills it with what the clock brings.
            threads.append(
                threading.Thread(
                    target=sweeps.run_forever, args=(stop,), name="sweeps", daemon=True
                )
            )
        for thread in threads:
            thread.start()
        reads.start()
        relay = CHANGE_RELAY.of_app(app)
        relay.start()
        with settled_heap():  # last: startup's objects are built by now
            yield
        relay.stop()
        stop.set()
        for thread in threads:
            thread.join(timeout=settings.webhook_timeout_seconds + settings.webhook_poll_seconds)
        reads.stop()
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
    _install_state(app, settings, database, media, secret, worker, box)
    ACCESS_LOG.put(app, reads)
    install_problem_handlers(app)
    install_docs(app)
    # Innermost first.
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        upload_paths=admin_media.UPLOAD_PATHS,
    )
    # Repeat catalogue reads (anonymous, or by a viewer checked lately) are answered
    # here, before routing.
    app.add_middleware(CatalogResponseCache)
    app.add_middleware(ETagMiddleware)
    # Request ids, logs, metrics, security headers (outermost), and CORS when configured.
    install_observability(app, settings)
    # Routes match in order: the most requested first (catalogue reads, then a person's own).
    for router in (
        catalog_content.router,
        *progress_routers,
        outcomes_me.router,
        identity_auth.router,
        identity_mail.router,
        identity_me.router,
        accounts_me.router,
        accounts_mfa.router,
        health_router,
        clinics_routes.router,
        clinics_routes.clinic,
        care_patients.router,
        care_programs.router,
        handouts.me,
        handouts.clinic,
        invitations.router,
        staff.router,
        staff.me,
        api_clients.router,
        webhooks.router,
        links.router,
        access_log.me,
        access_log.clinic,
        catalog_media.router,
        admin_content.router,
        admin_stages.router,
        admin_media.router,
        admin_audit.router,
        outcomes_admin.router,
        care_outcomes.router,
        accounts_operators.router,
        # FHIR: the operations before the generic read (`Patient/$export` is not an id).
        fhir_bulk.router,
        fhir_bulk.files,
        fhir_resources.router,
        problem_pages_router,
    ):
        app.include_router(router)
    install_openapi(app)
    return app


def _install_state(
    app: FastAPI,
    settings: Settings,
    database: Database,
    media: MediaSigner,
    secret: bytes,
    worker: OutboxWorker,
    box: SecretBox,
) -> None:
    """Put what the app holds on its typed state, and wire its caches to committed changes."""
    codec = TokenCodec(
        secret=secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    ttl = settings.viewer_cache_seconds
    authenticator = Authenticator(database, codec, ttl_seconds=ttl)
    viewers = Viewers(database, authenticator, ttl_seconds=ttl)
    reports = TokenCache[bytes](ttl)
    todays = TokenCache[bytes](ttl)
    catalog = CatalogCache(
        database, media_url=media.public_url, poll_seconds=settings.content_poll_seconds
    )
    SETTINGS.put(app, settings)
    DATABASE.put(app, database)
    MEDIA_SIGNER.put(app, media)
    EXPORT_LINKS.put(app, export_links(secret, ttl_seconds=settings.fhir_export_link_seconds))
    TOKEN_CODEC.put(app, codec)
    RATE_LIMITER.put(
        app,
        RateLimiter(storage_uri=settings.redis_url, timeout_seconds=settings.redis_timeout_seconds),
    )
    SECRET_BOX.put(app, box)
    INVITATION_CODES.put(app, CodeHasher.from_secret(secret))
    SECOND_FACTOR_KEYS.put(app, SecondFactorKeys.from_secret(secret))
    AUTHENTICATOR.put(app, authenticator)
    VIEWERS.put(app, viewers)
    PROGRESS_REPORTS.put(app, reports)
    TODAY_SCREENS.put(app, todays)
    OUTBOX_WORKER.put(app, worker)
    CATALOG.put(app, catalog)
    # The one place committed changes become this process's cache invalidations.
    reactor = CacheReactor(
        content=(catalog, viewers, reports, todays),
        standing=(viewers, reports, todays),
        principals=(authenticator,),
    )
    CACHE_REACTOR.put(app, reactor)  # the hub holds it weakly: it lives as long as the app
    database.changes.subscribe(reactor.react)
    # Other instances hear of this one's commits, and this one of theirs, through the hub.
    relay = ChangeRelay(
        database.changes,
        bus_for(settings),
        behind=catalog.is_behind,
        poll_seconds=settings.content_poll_seconds,
    )
    CHANGE_RELAY.put(app, relay)
