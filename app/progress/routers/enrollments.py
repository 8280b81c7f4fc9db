"""A person's enrollments: start a program, read it, advance, leave."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from app.catalog.deps import CatalogDep
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import error_responses
from app.core.http_cache import PRIVATE
from app.core.models import utcnow
from app.core.pagination import PageDep, envelope
from app.core.schemas import Page, Slug
from app.identity.deps import CurrentUserDep
from app.progress import enrollments, evaluation, present, service
from app.progress.schemas import (
    EnrollmentCreate,
    EnrollmentDetail,
    EnrollmentOut,
)
from app.progress.scope import OWN

router = APIRouter(prefix="/v1/me")

ProgramPath = Annotated[Slug, Path(description="The program's slug.")]
# OpenAPI links: what a client (or a stateful test) can do next with what it just made.
ENROLLMENT_LINKS = {
    name: {"operationId": operation, "parameters": {"program": "$response.body#/program"}}
    for name, operation in (
        ("GetEnrollment", "get_enrollment"),
        ("Advance", "advance"),
        ("LeaveProgram", "leave_program"),
    )
}


class EnrollmentPage(Page[EnrollmentOut]):
    pass


@router.post(
    "/enrollments",
    tags=["progress"],
    name="enroll",
    summary="Start a program at stage 1",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentDetail,
    responses={
        201: {"description": "Created", "links": ENROLLMENT_LINKS},
        **error_responses(401, 404, 409, 422),
    },
)
def enroll(
    body: EnrollmentCreate,
    session: SessionDep,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    response: Response,
) -> EnrollmentDetail:
    """Starts at stage 1 and answers the stage's rule evaluated criterion by criterion. 409 if
    you already follow the program; 404 for a program you may not see."""
    assert user.id is not None
    program = enrollments.program_for_person(session, snapshot, body.program, user_id=user.id)
    now = utcnow()
    service.enroll(session, user_id=user.id, program=program, now=now)
    state = evaluation.enrollment_state(session, user_id=user.id, program=program, now=now)
    response.headers["Location"] = f"/v1/me/enrollments/{program.slug}"
    return present.detail_of(session, state, OWN)


@router.get(
    "/enrollments",
    tags=["progress"],
    name="list_enrollments",
    summary="The programs you follow",
    response_model=EnrollmentPage,
    responses=error_responses(401, 422),
)
def list_enrollments(
    session: ReadSessionDep,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    page: PageDep,
    response: Response,
) -> dict[str, Any]:
    """Every program you follow, active or completed, with your stage in each."""
    assert user.id is not None
    states = evaluation.enrollment_states(
        session, user_id=user.id, snapshot=snapshot, now=utcnow(), scope=OWN
    )
    response.headers["Cache-Control"] = PRIVATE
    return envelope([present.enrollment(s, OWN) for s in page.slice(states)], len(states), page)


@router.get(
    "/enrollments/{program}",
    tags=["progress"],
    name="get_enrollment",
    summary="Your stage in a program and its advance rule, criterion by criterion",
    response_model=EnrollmentDetail,
    responses=error_responses(401, 404, 422),
)
def get_enrollment(
    program: ProgramPath,
    session: ReadSessionDep,
    user: CurrentUserDep,
    snapshot: CatalogDep,
    response: Response,
) -> EnrollmentDetail:
    """The rule of your current stage, each criterion with what you have and what it needs, and
    the hint the lock shows."""
    assert user.id is not None
    entry = enrollments.program_for_person(session, snapshot, program, user_id=user.id)
    state = evaluation.enrollment_state(session, user_id=user.id, program=entry, now=utcnow())
    response.headers["Cache-Control"] = PRIVATE
    return present.detail_of(session, state, OWN)


@router.delete(
    "/enrollments/{program}",
    tags=["progress"],
    name="leave_program",
    summary="Stop following a program (your logged sessions are kept)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
def leave_program(
    program: ProgramPath, session: SessionDep, user: CurrentUserDep, snapshot: CatalogDep
) -> Response:
    """Your logged sessions stay (they are yours, and in your export); following it again
    starts at stage 1."""
    assert user.id is not None
    entry = enrollments.program_for_person(session, snapshot, program, user_id=user.id)
    service.leave(session, user_id=user.id, program=entry)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/enrollments/{program}/advance",
    tags=["progress"],
    name="advance",
    summary="Move to the next stage when every criterion is met (409 lists what is not)",
    response_model=EnrollmentDetail,
    responses=error_responses(401, 404, 409, 422),
)
def advance(
    program: ProgramPath, session: SessionDep, user: CurrentUserDep, snapshot: CatalogDep
) -> EnrollmentDetail:
    """Moves you on only when every criterion of your stage's rule is met; 409 names each one
    that is not (pain holds included). The last stage completes the program."""
    assert user.id is not None
    entry = enrollments.program_for_person(session, snapshot, program, user_id=user.id)
    state = service.advance(session, user_id=user.id, program=entry, now=utcnow())
    return present.detail_of(session, state, OWN)
