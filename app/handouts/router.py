"""Printable handouts: a person's program as a PDF, for them and for their clinic.

`GET /v1/me/enrollments/{program}/handout.pdf` for the person;
`GET /v1/clinics/{clinic_id}/patients/{patient_id}/enrollments/{program}/handout.pdf`
for the clinic's staff and its API clients with `patients:read`, about a
linked patient. Either way the lock is the person's: stages not reached print
as teasers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from app.care.deps import ReadablePatientDep
from app.catalog.deps import CatalogDep
from app.clinics.deps import clinic_router
from app.core.deps import MediaSignerDep, ReadSessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.http_cache import PRIVATE
from app.core.models import utcnow
from app.core.schemas import Slug
from app.handouts import service
from app.handouts.render import render_pdf
from app.identity.deps import CurrentUserDep
from app.progress import enrollments

me = APIRouter(prefix="/v1/me", tags=["progress"])
clinic = clinic_router(tags=["clinic patients"])

ProgramPath = Annotated[Slug, Path(description="The program's slug.")]
PDF = "application/pdf"


class PdfResponse(Response):
    media_type = PDF


PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The handout, an A4 PDF.",
        "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _pdf(handout: service.Handout, body: bytes) -> PdfResponse:
    filename = f"{handout.program_slug}-handout.pdf"
    return PdfResponse(
        body,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": PRIVATE,
        },
    )


@me.get(
    "/enrollments/{program}/handout.pdf",
    name="get_handout",
    summary="Your program as a printable PDF (stages you have not reached stay locked)",
    response_class=PdfResponse,
    responses={**PDF_RESPONSE, **error_responses(401, 404, 422)},
)
def get_handout(
    program: ProgramPath,
    session: ReadSessionDep,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    media: MediaSignerDep,
    settings: SettingsDep,
) -> PdfResponse:
    """Clinic name, you, the program and your current stage; every exercise with its picture
    and dosage, and the steps, cues and precautions of each stage you have reached."""
    assert user.id is not None
    entry = enrollments.program_for_person(session, snapshot, program, user_id=user.id)
    handout = service.for_person(
        session, user=user, program=entry, snapshot=snapshot, media=media, now=utcnow()
    )
    return _pdf(handout, render_pdf(handout, settings.media_dir))


@clinic.get(
    "/patients/{patient_id}/enrollments/{program}/handout.pdf",
    name="get_patient_handout",
    summary="A linked patient's program as a printable PDF, locked as the patient sees it",
    response_class=PdfResponse,
    responses={**PDF_RESPONSE, **error_responses(401, 403, 404, 422)},
)
def get_patient_handout(
    patient: ReadablePatientDep,
    program: ProgramPath,
    session: ReadSessionDep,
    snapshot: CatalogDep,
    media: MediaSignerDep,
    settings: SettingsDep,
) -> PdfResponse:
    """What the patient would print: a program of theirs the clinic may see, stages they have
    not reached as teasers only."""
    handout = service.for_patient(
        session,
        patient=patient.user,
        clinic_id=patient.clinic_id,
        slug=program,
        snapshot=snapshot,
        media=media,
        now=utcnow(),
    )
    return _pdf(handout, render_pdf(handout, settings.media_dir))
