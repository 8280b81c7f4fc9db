"""Bulk Data `Patient/$export`: kick-off (202 + Content-Location), status, cancel, files.

Kick-off and status sit on the clinic's default-deny router like every FHIR
read. The files are fetched with the signed, expiring links the manifest
gives (`requiresAccessToken: false`), so they live outside it, as media do;
each line is checked against the clinic's live consents as it is served.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.catalog.deps import CatalogDep
from app.clinics.access_log import ACCESS_LOG
from app.clinics.deps import FhirReaderDep, clinic_router
from app.core.deps import DATABASE, ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import ForbiddenError
from app.core.http_cache import PRIVATE
from app.core.models import as_utc, utcnow
from app.fhir import export
from app.fhir.context import instant
from app.fhir.models import ExportStatus
from app.fhir.outcome import issue, operation_outcome
from app.fhir.resources import REGISTRY
from app.fhir.routers.http import (
    FHIR_PREFIX,
    FhirResponse,
    FhirRoute,
    api_root,
    fhir_base,
    outcome_response,
)
from app.fhir.search import parse_export

router = clinic_router(tags=["fhir"], route_class=FhirRoute, include_in_schema=False)
files = APIRouter(route_class=FhirRoute, include_in_schema=False)

JobId = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
FileName = Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z]{1,64}\.ndjson$")]
PreferHeader = Annotated[str | None, Header(max_length=200)]


@router.get(FHIR_PREFIX + "/Patient/$export", name="fhir_patient_export", status_code=202)
def kick_off(
    actor: FhirReaderDep,
    session: SessionDep,
    snapshot: CatalogDep,
    settings: SettingsDep,
    request: Request,
    background: BackgroundTasks,
    prefer: PreferHeader = None,
) -> FhirResponse:
    """Start exporting every linked patient's resources; poll the Content-Location."""
    lenient = "handling=lenient" in (prefer or "").replace(" ", "").lower()
    types, since = parse_export(REGISTRY, request.query_params.multi_items(), lenient=lenient)
    job = export.start_export(
        session,
        actor=actor,
        types=types,
        since=since,
        request_url=str(request.url),
        api_root=api_root(request),
        now=utcnow(),
        keep=timedelta(hours=settings.fhir_export_hours),
        data_dir=settings.data_dir,
    )
    background.add_task(
        export.run_export,
        DATABASE.of(request),
        job.id,
        snapshot=snapshot,
        registry=REGISTRY,
        data_dir=settings.data_dir,
        reads=ACCESS_LOG.of(request),
    )
    status_url = f"{fhir_base(request, actor.clinic_id)}/$export-status/{job.id}"
    accepted = issue(202, f"Export accepted; poll {status_url}.", severity="information")
    return FhirResponse(
        operation_outcome(accepted), status_code=202, headers={"Content-Location": status_url}
    )


@router.get(
    FHIR_PREFIX + "/$export-status/{job_id}", name="fhir_export_status", response_model=None
)
def export_status(
    job_id: JobId, actor: FhirReaderDep, session: SessionDep, request: Request
) -> JSONResponse | FhirResponse:
    """202 while it runs (X-Progress), 200 with the manifest when done, 500 if it failed."""
    now = utcnow()
    job = export.job_of(session, actor, job_id, now)
    if job.status in export.ACTIVE:
        progress = job.progress or str(job.status)
        return FhirResponse(
            operation_outcome(issue(202, f"In progress: {progress}.", severity="information")),
            status_code=202,
            headers={"X-Progress": progress[:100], "Retry-After": "2"},
        )
    if job.status == ExportStatus.FAILED:
        return outcome_response(500, job.error or "The export failed.")
    links = export.EXPORT_LINKS.of(request)
    expiry = min(links.current_expiry(), int(as_utc(job.expires_at).timestamp()))
    urls = {
        item["file"]: api_root(request) + links.signed_url(f"{job.id}/{item['file']}", expiry)
        for item in job.output
    }
    return JSONResponse(
        export.manifest(job, urls=urls),
        headers={"Cache-Control": PRIVATE, "Expires": instant(as_utc(job.expires_at))},
    )


@router.delete(FHIR_PREFIX + "/$export-status/{job_id}", name="fhir_export_cancel", status_code=202)
def cancel_export(
    job_id: JobId, actor: FhirReaderDep, session: SessionDep, settings: SettingsDep
) -> FhirResponse:
    """Cancel a running export, or delete a finished one's files now."""
    job = export.job_of(session, actor, job_id, utcnow())
    export.cancel(session, job, data_dir=settings.data_dir)
    done = issue(202, "The export was cancelled and its files deleted.", severity="information")
    return FhirResponse(operation_outcome(done), status_code=202)


@files.get("/v1/fhir-exports/{job_id}/{file_name}", name="fhir_export_file")
def export_file(
    job_id: JobId,
    file_name: FileName,
    session: ReadSessionDep,
    settings: SettingsDep,
    request: Request,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=64, max_length=64)],
) -> StreamingResponse:
    """One NDJSON file of a finished export, through its signed link."""
    if not export.EXPORT_LINKS.of(request).verify(f"{job_id}/{file_name}", expires, signature):
        raise ForbiddenError("This download link is not valid or has expired.")
    job, path, resource_type = export.download(
        session, job_id=job_id, file_name=file_name, data_dir=settings.data_dir, now=utcnow()
    )
    lines = export.consented_lines(
        DATABASE.of(request),
        clinic_id=job.clinic_id,
        path=path,
        provider=REGISTRY.get(resource_type),
    )
    return StreamingResponse(
        lines, media_type=export.NDJSON, headers={"Cache-Control": "private, no-store"}
    )
