"""Bulk Data `$export` of a clinic's patients: a job table, NDJSON files, signed links.

No FastAPI here. The kick-off records a job; `run_export` (a background task of
the process that accepted it) writes one NDJSON file per resource type under
DATA_DIR/fhir-exports/<job id>/, reading `BATCH` resources at a time in a fresh
read session each (so memory stays bounded and a withdrawn consent is seen by
the very next statement) and checking consent once more right before each
batch is written. Downloads check it again, line by line: a patient who
withdraws disappears from files already written too. Files and rows are
deleted when the job expires (`FHIR_EXPORT_HOURS`) or is cancelled.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from sqlmodel import Session, col, delete, select

from app.catalog.snapshot import CatalogSnapshot
from app.clinics.access_log import AccessLog
from app.clinics.models import Clinic, PatientLink
from app.clinics.service import ClinicActor
from app.core.db import Database
from app.core.errors import NotFoundError, TooManyRequestsError
from app.core.media import MediaSigner
from app.core.models import as_utc, utcnow
from app.core.state import StateKey
from app.fhir.codes import Json
from app.fhir.context import Criteria, FhirContext, Updated, instant, still_linked
from app.fhir.models import ExportJob, ExportStatus
from app.fhir.registry import Found, Registry, ResourceProvider
from app.fhir.resources.common import BATCH

logger = logging.getLogger("app.fhir.export")

EXPORT_FOLDER = "fhir-exports"
EXPORT_OPERATION = "fhir_patient_export"  # the kick-off's operation, as the access log names it
FILES_PATH = "/v1/fhir-exports"
NDJSON = "application/fhir+ndjson"
# A job no worker has touched for this long was cut off (a restart): it is failed, not waited on.
STALE = timedelta(minutes=10)
ACTIVE = (ExportStatus.QUEUED, ExportStatus.RUNNING)


EXPORT_LINKS = StateKey[MediaSigner]("fhir_export_links")


def export_links(secret: bytes, *, ttl_seconds: int) -> MediaSigner:
    """Signs download links with a key of their own: a media link never opens an export."""
    key = hmac.new(secret, b"fhir-export-links", hashlib.sha256).digest()
    return MediaSigner(key, base_url=FILES_PATH, ttl_seconds=ttl_seconds)


class ExportCancelledError(Exception):
    """The job's row is gone: cancelled (DELETE) or expired while it ran."""


def folder_of(data_dir: Path, job_id: str) -> Path:
    return data_dir / EXPORT_FOLDER / job_id


def start_export(
    session: Session,
    *,
    actor: ClinicActor,
    types: list[str],
    since: datetime | None,
    request_url: str,
    api_root: str,
    now: datetime,
    keep: timedelta,
    data_dir: Path,
) -> ExportJob:
    """Record a new export for the actor's clinic; one runs at a time per clinic (429)."""
    purge_expired(session, data_dir=data_dir, now=now)
    running = session.exec(
        select(ExportJob).where(
            ExportJob.clinic_id == actor.clinic_id, col(ExportJob.status).in_(ACTIVE)
        )
    ).all()
    if any(not _stale(job, now) for job in running):
        raise TooManyRequestsError(
            "An export of this clinic's patients is already running: poll it, or wait for it.",
            retry_after=30,
        )
    job = ExportJob(
        id=secrets.token_hex(16),
        clinic_id=actor.clinic_id,
        user_id=actor.actor_user_id,
        api_client_id=actor.client.client_pk if actor.client else None,
        request_url=request_url[:2000],
        api_root=api_root[:300],
        types=types,
        since=since,
        created_at=now,
        heartbeat_at=now,
        expires_at=now + keep,
    )
    session.add(job)
    session.flush()
    return job


def job_of(session: Session, actor: ClinicActor, job_id: str, now: datetime) -> ExportJob:
    """One of the clinic's exports (anyone the clinic admits with `fhir:read` may poll it:
    they may read the same data); another clinic's, or an expired one, is a 404."""
    job = session.get(ExportJob, job_id)
    if job is None or job.clinic_id != actor.clinic_id or as_utc(job.expires_at) <= now:
        raise NotFoundError("No such export (it may have expired or been cancelled).")
    if job.status in ACTIVE and _stale(job, now):
        job.status = ExportStatus.FAILED
        job.error = "The export was interrupted (the server restarted); start a new one."
        session.add(job)
        session.flush()
    return job


def cancel(session: Session, job: ExportJob, *, data_dir: Path) -> None:
    """Cancel (or delete) an export: its row and files go; a running job stops at its next batch."""
    session.delete(job)
    session.flush()
    shutil.rmtree(folder_of(data_dir, job.id), ignore_errors=True)


def purge_expired(session: Session, *, data_dir: Path, now: datetime) -> None:
    expired = session.exec(select(ExportJob.id).where(col(ExportJob.expires_at) <= now)).all()
    for job_id in expired:
        shutil.rmtree(folder_of(data_dir, job_id), ignore_errors=True)
    if expired:
        session.execute(delete(ExportJob).where(col(ExportJob.id).in_(expired)))


def _stale(job: ExportJob, now: datetime) -> bool:
    touched = job.heartbeat_at or job.created_at
    return now - as_utc(touched) > STALE


# ---------------------------------------------------------------------------
# Running a job


def run_export(
    database: Database,
    job_id: str,
    *,
    snapshot: CatalogSnapshot,
    registry: Registry,
    data_dir: Path,
    reads: AccessLog,
    batch: int = BATCH,
) -> None:
    """Write the job's files, one type at a time, `batch` resources at a time; each patient
    written is in their access log once, as read by whoever asked."""
    folder = folder_of(data_dir, job_id)
    with database.write_session() as session:
        job = session.get(ExportJob, job_id)
        if job is None or job.status != ExportStatus.QUEUED:
            return
        job.status = ExportStatus.RUNNING
        job.heartbeat_at = utcnow()
        session.add(job)
        clinic = session.get(Clinic, job.clinic_id)
        plan = _Plan(
            job_id,
            job.clinic_id,
            clinic.name if clinic else "",
            job.api_root,
            Criteria(updated=Updated(lower=as_utc(job.since) if job.since else None)),
            [registry.get(name) for name in job.types],
            _Reader(reads, job.user_id, job.api_client_id, urlsplit(job.request_url).path),
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        output = [
            {"type": provider.resource_type, "file": f"{provider.resource_type}.ndjson", "count": n}
            for provider in plan.providers
            if (n := _write_type(database, plan, provider, snapshot, folder, batch))
        ]
        _finish(database, job_id, ExportStatus.COMPLETED, output=output)
    except ExportCancelledError:
        shutil.rmtree(folder, ignore_errors=True)
    except Exception:
        logger.exception("FHIR export %s failed", job_id)
        shutil.rmtree(folder, ignore_errors=True)
        _finish(database, job_id, ExportStatus.FAILED, error="The export failed; it was logged.")


class _Plan:
    def __init__(
        self,
        job_id: str,
        clinic_id: int,
        clinic_name: str,
        api_root: str,
        criteria: Criteria,
        providers: list[ResourceProvider],
        reader: _Reader,
    ) -> None:
        self.reader = reader
        self.job_id = job_id
        self.clinic_id = clinic_id
        self.clinic_name = clinic_name
        self.api_root = api_root
        self.criteria = criteria
        self.providers = providers


class _Reader:
    """Who asked for the export: each patient it writes is logged once, as read by them."""

    def __init__(
        self, reads: AccessLog, user_id: int | None, client_pk: int | None, path: str
    ) -> None:
        self.reads = reads
        self.user_id = user_id
        self.client_pk = client_pk
        self.path = path
        self.logged: set[int] = set()

    def wrote(self, clinic_id: int, patients: set[int]) -> None:
        new = patients - self.logged
        if new:
            self.logged |= new
            self.reads.record_for(
                clinic_id,
                sorted(new),
                user_id=self.user_id,
                client_pk=self.client_pk,
                what=EXPORT_OPERATION,
                path=self.path,
            )


def _write_type(
    database: Database,
    plan: _Plan,
    provider: ResourceProvider,
    snapshot: CatalogSnapshot,
    folder: Path,
    batch: int,
) -> int:
    path = folder / f"{provider.resource_type}.ndjson"
    partial = path.with_suffix(".part")
    written = 0
    after = None
    with partial.open("wb") as out:
        while True:
            with database.read_session() as session:
                context = FhirContext(
                    session, plan.clinic_id, plan.clinic_name, snapshot, utcnow(), plan.api_root
                )
                chunk = list(islice(provider.search(context, plan.criteria, after), batch))
            if not chunk:
                break
            after = chunk[-1].key
            # Consent once more, right before these lines are written.
            progress = f"{provider.resource_type}: {written + len(chunk)} read"
            linked = _heartbeat(database, plan, chunk_patients(chunk), progress)
            lines = [
                orjson.dumps(found.resource)
                for found in chunk
                if found.patient_id is None or found.patient_id in linked
            ]
            if lines:
                out.write(b"\n".join(lines) + b"\n")
                plan.reader.wrote(plan.clinic_id, set(chunk_patients(chunk)) & linked)
            written += len(lines)
            if len(chunk) < batch:
                break
    if written:
        partial.replace(path)
    else:
        partial.unlink()
    return written


def chunk_patients(chunk: list[Found]) -> list[int]:
    return [found.patient_id for found in chunk if found.patient_id is not None]


def _heartbeat(database: Database, plan: _Plan, patients: list[int], progress: str) -> set[int]:
    """Still running (not cancelled)? Record the progress; return who is still linked."""
    with database.write_session() as session:
        job = session.get(ExportJob, plan.job_id)
        if job is None or job.status != ExportStatus.RUNNING:
            raise ExportCancelledError(plan.job_id)
        job.heartbeat_at = utcnow()
        job.progress = progress
        session.add(job)
        return still_linked(session, plan.clinic_id, patients)


def _finish(
    database: Database,
    job_id: str,
    status: ExportStatus,
    *,
    output: list[Json] | None = None,
    error: str | None = None,
) -> None:
    with database.write_session() as session:
        job = session.get(ExportJob, job_id)
        if job is None:  # cancelled at the last moment
            return
        job.status = status
        job.output = output or []
        job.error = error
        job.finished_at = utcnow()
        job.progress = None
        session.add(job)


# ---------------------------------------------------------------------------
# Reading a finished job


def manifest(job: ExportJob, *, urls: dict[str, str]) -> Json:
    """The completion manifest: one signed, expiring URL per file."""
    return {
        "transactionTime": instant(job.created_at),
        "request": job.request_url,
        "requiresAccessToken": False,
        "output": [
            {"type": item["type"], "url": urls[item["file"]], "count": item["count"]}
            for item in job.output
        ],
        "error": [],
    }


def download(
    session: Session, *, job_id: str, file_name: str, data_dir: Path, now: datetime
) -> tuple[ExportJob, Path, str]:
    """The file of a completed, unexpired job, and its resource type; 404 otherwise."""
    job = session.get(ExportJob, job_id)
    if job is None or job.status != ExportStatus.COMPLETED or as_utc(job.expires_at) <= now:
        raise NotFoundError("No such export file (it may have expired).")
    for item in job.output:
        if item["file"] == file_name:
            return job, folder_of(data_dir, job.id) / file_name, str(item["type"])
    raise NotFoundError("No such export file.")


def linked_now(session: Session, clinic_id: int) -> set[int]:
    rows = session.exec(
        select(PatientLink.patient_id).where(
            PatientLink.clinic_id == clinic_id, col(PatientLink.revoked_at).is_(None)
        )
    )
    return set(rows)


def consented_lines(
    database: Database, *, clinic_id: int, path: Path, provider: ResourceProvider
) -> Iterator[bytes]:
    """The file's lines about patients still linked to the clinic, in chunks."""
    with database.read_session() as session:
        linked = linked_now(session, clinic_id)
    chunk: list[bytes] = []
    with path.open("rb") as lines:
        for line in lines:
            patient = provider.patient_of(orjson.loads(line))
            if patient is None or patient in linked:
                chunk.append(line)
            if len(chunk) >= BATCH:
                yield b"".join(chunk)
                chunk = []
    if chunk:
        yield b"".join(chunk)
