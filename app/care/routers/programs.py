"""The clinic's own programs: built from catalogue exercises, seen only inside the clinic."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Path, Response, status

from app.care import programs
from app.care.schemas import ClinicProgramIn, ClinicProgramOut, ClinicProgramPage
from app.catalog.deps import CatalogDep
from app.clinics.deps import ProgramsReaderDep, ProgramsWriterDep, clinic_router
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import error_responses
from app.core.http_cache import PRIVATE
from app.core.pagination import PageDep, envelope

router = clinic_router(tags=["clinic programs"])
ACTOR_ERRORS = (401, 403, 404, 422)

ProgramSlugPath = Annotated[
    str,
    Path(max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", description="The clinic's slug."),
]
IfMatch = Annotated[str | None, Header(max_length=400, description="The ETag you read.")]
# Required in the schema; a request without it is answered 428 (see `app.core.errors`).
IfMatchRequired = Annotated[
    str,
    Header(
        min_length=1,
        max_length=400,
        description="The ETag of the program as you read it (428 without, 412 when it changed).",
    ),
]
EDIT_RULE = (
    "Replaces the program as a whole (send everything, as read). Requires `If-Match` with "
    "the ETag of your last read: 428 without it, 412 when someone changed it since.\n\n"
    "Patients following the program keep their stage and history: changed guidance, "
    "dosage, exercises, rules and appended stages apply from their next evaluation. "
    "Removing the stage a patient is at (or one below it), or setting the program back "
    "to draft while anyone follows it, is refused with 409 naming those patients."
)


def _program_response(found: programs.ClinicProgram, response: Response) -> dict[str, Any]:
    response.headers["ETag"] = found.etag
    response.headers["Cache-Control"] = PRIVATE
    return found.body


@router.post(
    "/programs",
    name="create_clinic_program",
    summary="Build a program from catalogue exercises, visible only inside the clinic",
    description=(
        "Needs the `programs:write` scope. Stored as `clinic-{clinic_id}-{slug}`: that is "
        "the slug patients see and assignments may use. Published programs can be "
        "assigned; drafts are visible to the clinic only."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ClinicProgramOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def create_clinic_program(
    body: ClinicProgramIn,
    actor: ProgramsWriterDep,
    session: SessionDep,
    snapshot: CatalogDep,
    response: Response,
) -> dict[str, Any]:
    created = programs.create_program(session, actor=actor, body=body, snapshot=snapshot)
    response.headers["Location"] = f"/v1/clinics/{actor.clinic_id}/programs/{created.body['slug']}"
    return _program_response(created, response)


@router.get(
    "/programs",
    name="list_clinic_programs",
    summary="The clinic's own programs, drafts included (programs:read)",
    response_model=ClinicProgramPage,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_clinic_programs(
    actor: ProgramsReaderDep, session: ReadSessionDep, page: PageDep, response: Response
) -> dict[str, Any]:
    """Clinicians and API clients with `programs:read`; drafts included. Patients see a program
    only when it is assigned to them."""
    rows, total = programs.list_programs(
        session, clinic_id=actor.clinic_id, limit=page.limit, offset=page.offset
    )
    response.headers["Cache-Control"] = PRIVATE
    return envelope(rows, total, page)


@router.get(
    "/programs/{program_slug}",
    name="get_clinic_program",
    summary="One of the clinic's programs, with the ETag an update must send back",
    response_model=ClinicProgramOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_clinic_program(
    program_slug: ProgramSlugPath,
    actor: ProgramsReaderDep,
    session: ReadSessionDep,
    response: Response,
) -> dict[str, Any]:
    """Send the `ETag` back in `If-Match` to `PUT` the document you read (its read-only
    `program` member is ignored on the way back). Clinicians and API clients with
    `programs:read`."""
    found = programs.get_program(session, clinic_id=actor.clinic_id, slug=program_slug)
    return _program_response(found, response)


@router.put(
    "/programs/{program_slug}",
    name="update_clinic_program",
    summary="Edit one of the clinic's programs (If-Match required)",
    description=EDIT_RULE,
    response_model=ClinicProgramOut,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
def update_clinic_program(
    program_slug: ProgramSlugPath,
    body: ClinicProgramIn,
    actor: ProgramsWriterDep,
    session: SessionDep,
    snapshot: CatalogDep,
    response: Response,
    if_match: IfMatchRequired,
) -> dict[str, Any]:
    updated = programs.update_program(
        session,
        actor=actor,
        slug=program_slug,
        body=body,
        if_match=if_match,
        snapshot=snapshot,
    )
    return _program_response(updated, response)


@router.delete(
    "/programs/{program_slug}",
    name="delete_clinic_program",
    summary="Delete one of the clinic's programs (409 naming the patients who follow it)",
    description=(
        "Refused with 409 while patients follow the program (the body names them) or "
        "once sessions were logged in it (set it to draft instead). `If-Match` is optional "
        "here; when sent, a stale one is 412."
    ),
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
def delete_clinic_program(
    program_slug: ProgramSlugPath,
    actor: ProgramsWriterDep,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    programs.delete_program(session, actor=actor, slug=program_slug, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
