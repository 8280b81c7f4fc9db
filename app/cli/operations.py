"""The `rehab` commands that run the service: serve, migrate, seed, import, the worker,
the outcome sweeps and the OpenAPI document."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.base import cli, fail, open_database
from app.core.config import get_settings

if TYPE_CHECKING:
    from app.outbox.worker import OutboxWorker


class ImportFormat(StrEnum):
    FREE_EXERCISE_DB = "free-exercise-db"


@cli.command()
def serve(
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    access_log: Annotated[
        bool | None, typer.Option(help="Log one line per request (default: ACCESS_LOG).")
    ] = None,
) -> None:
    """Serve the API with uvicorn (on SIGTERM, requests in flight finish first)."""
    import os

    import uvicorn

    from app.core.logs import logging_config

    if access_log is not None:
        # The app reads its settings in each server process: pass the choice on through them.
        os.environ["ACCESS_LOG"] = str(access_log).lower()
        get_settings.cache_clear()
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The app writes one access line per request itself (ACCESS_LOG), with its route
        # template and request id; uvicorn's own logs get the same format.
        access_log=False,
        log_config=logging_config(settings, uvicorn=True),
        # Only a configured proxy may say who the client is: per-address limits count the
        # real address, and an empty setting trusts no one (not even loopback).
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or "",
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest migration (one process at a time)."""
    from app.core.migrations import upgrade_to_head
    from app.core.setup_lock import setup_lock

    settings = get_settings()
    with setup_lock(settings.resolved_database_url):
        upgrade_to_head(settings)
    typer.echo("Database is at the latest migration.")


@cli.command()
def seed(
    folder: Annotated[
        Path | None, typer.Argument(help="Content folder (default: SEED_DIR, ./seed).")
    ] = None,
    placeholder_media: Annotated[
        bool,
        typer.Option(
            "--placeholder-media",
            help="Write stand-ins under MEDIA_DIR for media keys without a file (development).",
        ),
    ] = False,
) -> None:
    """Create or update the authored content by slug; unchanged content writes nothing."""
    from app.authoring.content import apply_content
    from app.authoring.report import ContentError
    from app.authoring.seed import read_content_dir
    from app.core.models import utcnow
    from app.core.setup_lock import setup_lock
    from app.outcomes.instruments import SeedError, apply_seed, read_seed

    settings = get_settings()
    database = open_database(settings)
    content_dir = folder or settings.seed_dir
    try:
        bundle = read_content_dir(content_dir)
        definitions = read_seed(content_dir / "instruments")
        # Instances seeding together take turns; the later ones find nothing to change.
        with setup_lock(settings.resolved_database_url), database.write_session() as session:
            report = apply_content(session, bundle)
            instruments = apply_seed(session, definitions, now=utcnow())
    except ContentError as exc:
        fail(exc.problems, "The content has problems; nothing was written:")
    except SeedError as exc:
        fail([str(exc)], "An instrument has problems; nothing was written:")
    finally:
        database.dispose()
    typer.echo(f"Seeded: {report.summary()}; {instruments} instrument(s) published.")
    if placeholder_media:
        from app.authoring.placeholders import write_placeholder_media

        written = write_placeholder_media(bundle, settings.media_dir)
        typer.echo(f"Wrote {written} placeholder media file(s) under {settings.media_dir}.")


@cli.command("import")
def import_library(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    format_: Annotated[
        ImportFormat, typer.Option("--format", help="The file's format.")
    ] = ImportFormat.FREE_EXERCISE_DB,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid records, report the rest.")
    ] = False,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            exists=True,
            file_okay=False,
            help="The library's image folder: its thumbnails are copied into the media folder.",
        ),
    ] = None,
) -> None:
    """Add an external exercise library to the catalogue (idempotent by external id)."""
    from app.authoring.importer import ImageFolder, LibraryImportError, import_free_exercise_db

    settings = get_settings()
    database = open_database(settings)
    folder = ImageFolder(images, settings.media_dir) if images else None
    try:
        with database.write_session() as session:
            report = import_free_exercise_db(
                session, file, skip_invalid=skip_invalid, images=folder
            )
    except LibraryImportError as exc:
        fail(exc.problems, f"{file}: {len(exc.problems)} invalid record(s); nothing was written:")
    finally:
        database.dispose()
    for line in report.rejected:
        typer.echo(f"skipped: {line}", err=True)
    typer.echo(report.summary())


@cli.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Send what is due, then exit.")] = False,
) -> None:
    """Send the outbox: webhooks and mail (beside servers started with WEBHOOK_WORKER=false)."""
    from app.clinics.webhooks import WEBHOOK_SECRETS
    from app.core.db import Database
    from app.core.secrets import SecretBox, resolve_secret_key
    from app.main import outbox_worker
    from app.outcomes.sweeps import Sweeps

    settings = get_settings()
    database = Database.from_settings(settings)
    sender = outbox_worker(
        settings, database, SecretBox(resolve_secret_key(settings), purpose=WEBHOOK_SECRETS)
    )
    sweeps = Sweeps(database, adherence_every_seconds=settings.adherence_check_minutes * 60)

    def sweep() -> None:
        for name, queued in sweeps.run_due().items():
            if queued:
                typer.echo(f"Queued {queued} {SWEPT[name]}.")

    try:
        if once:
            sweep()
            typer.echo(f"Attempted {sender.run_once()} message(s).")
        else:
            typer.echo("Sending the outbox (webhooks and mail); Ctrl+C or SIGTERM to stop.")
            _deliver_until_signalled(sender, settings.webhook_poll_seconds, sweep)
            typer.echo("Stopped.")
    finally:
        database.dispose()


SWEPT = {"reminders": "reminder(s)", "adherence": "adherence.low event(s)"}


def _deliver_until_signalled(
    sender: OutboxWorker, poll_seconds: float, sweep: Callable[[], None]
) -> None:
    """Deliver in a thread until SIGTERM or SIGINT; the delivery in flight finishes first.

    Meanwhile this thread runs `sweep` (reminders, adherence: each on its own period).
    """
    import signal
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=sender.run_forever, args=(poll_seconds, stop))
    # Only this (main) thread takes the signals, and it never holds `stop`'s lock, so
    # setting it from the handler cannot deadlock.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    thread.start()
    while thread.is_alive():
        if not stop.is_set():
            sweep()
        thread.join(timeout=1.0)


@cli.command("check-adherence")
def check_adherence() -> None:
    """Queue `adherence.low` for patients below their clinic's threshold now (the outbox
    worker does it every ADHERENCE_CHECK_MINUTES)."""
    from app.core.db import Database
    from app.core.models import utcnow
    from app.outcomes.sweeps import queue_adherence_alerts

    database = Database.from_settings(get_settings())
    try:
        with database.write_session() as session:
            queued = queue_adherence_alerts(session, utcnow())
    finally:
        database.dispose()
    typer.echo(f"Queued {queued} adherence.low event(s).")


@cli.command("send-reminders")
def send_reminders() -> None:
    """Queue the reminders whose local time has come now (the outbox worker does it every
    30 s)."""
    from app.core.db import Database
    from app.core.models import utcnow
    from app.outcomes.reminders import send_due

    database = Database.from_settings(get_settings())
    try:
        with database.write_session() as session:
            sent = send_due(session, now=utcnow())
    finally:
        database.dispose()
    typer.echo(f"Queued {sent} reminder(s).")


@cli.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write the OpenAPI document."""
    from app.main import create_app

    document = json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(document)
    else:
        output.write_text(document, encoding="utf-8")
        typer.echo(f"Wrote {output}.")
