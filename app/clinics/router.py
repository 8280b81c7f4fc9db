"""Clinic endpoints: clinics and members, invitations and consent, patients, API clients,
webhooks. Everything under `/v1/clinics/{clinic_id}/` answers 404 to outsiders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from app.access.deps import forget_viewer
from app.access.policy import Role
from app.catalog.deps import CatalogDep
from app.catalog.snapshot import CatalogSnapshot
from app.clinics import programs, service, webhooks
from app.clinics.deps import ClinicActorDep, ClinicIdPath
from app.clinics.models import (
    ApiClient,
    ClinicMember,
    MemberRole,
    PatientInvitation,
    Scope,
    WebhookSubscription,
)
from app.clinics.schemas import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientOut,
    AssignProgram,
    ClinicCreate,
    ClinicOut,
    ClinicProgramIn,
    ClinicProgramOut,
    ClinicProgramPage,
    DeliveryOut,
    DeliveryPage,
    InvitationCreated,
    InvitationOut,
    LinkCreate,
    LinkOut,
    MemberAdd,
    MemberOut,
    PatientPage,
    PatientSummaryOut,
    StageOverride,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)
from app.clinics.service import ClinicActor, PatientSummary
from app.clinics.webhooks import SecretBox
from app.core.deps import ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import ForbiddenError, error_responses
from app.core.models import utcnow
from app.core.pagination import PageDep, envelope
from app.core.ratelimit import RateLimiter
from app.core.schemas import Slug
from app.identity.deps import CurrentUserDep
from app.identity.models import User
from app.progress import present, report, sessions
from app.progress import service as progress
from app.progress.schemas import EnrollmentDetail, ProgressOut, SessionFeed

router = APIRouter(prefix="/v1/clinics", tags=["clinics"])
me_router = APIRouter(prefix="/v1/me/clinic-links", tags=["clinic links"])

PatientIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The patient's user id.")]


async def _forget_patient_viewer_after(
    request: Request, patient_id: PatientIdPath
) -> AsyncIterator[None]:
    yield
    forget_viewer(request, patient_id)


# The patient's stage or programs change: their next catalogue read is fresh.
RefreshesPatientViewer = Depends(_forget_patient_viewer_after, scope="function")


async def _refresh_catalog_after(request: Request) -> AsyncIterator[None]:
    yield
    # Runs after the request's session committed: this process's next read sees the edit
    # at once; other processes notice the bumped content version within their poll.
    request.app.state.catalog.invalidate()


RefreshesCatalog = Depends(_refresh_catalog_after, scope="function")


async def _forget_member_viewer_after(
    request: Request, user_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> AsyncIterator[None]:
    yield
    forget_viewer(request, user_id)


# A removed clinician stops seeing the clinic's own programs on their next read.
RefreshesMemberViewer = Depends(_forget_member_viewer_after, scope="function")


def _clinic_view(actor: ClinicActor, snapshot: CatalogSnapshot) -> CatalogSnapshot:
    """The catalogue as this clinic sees it: no other clinic's programs in its patients' views."""
    return snapshot.seen_by_clinic(actor.clinic_id)


PRIVATE = "private, no-cache"
ACTOR_ERRORS = (401, 403, 404, 422)
# OpenAPI links from a new subscription to its deliveries and its removal.
WEBHOOK_LINKS = {
    name: {
        "operationId": operation,
        "parameters": {
            "clinic_id": "$request.path.clinic_id",
            "webhook_id": "$response.body#/id",
        },
    }
    for name, operation in (
        ("ListDeliveries", "list_deliveries"),
        ("DeleteWebhook", "delete_webhook"),
    )
}


def _require_user(actor: ClinicActor) -> User:
    if actor.user is None:
        raise ForbiddenError("Only the clinic's clinicians can do this, not API clients.")
    return actor.user


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.webhook_box
    return box


def _summary(summary: PatientSummary) -> dict[str, Any]:
    user = summary.user
    return {
        "id": user.id,
        "display_name": user.display_name,
        "email": user.email,
        "linked_at": summary.linked_at,
        "programs": summary.programs,
        "sessions_last_7_days": summary.sessions_last_7_days,
        "latest_pain": summary.latest_pain,
        "pain_hold": summary.pain_hold,
        "inactive": summary.inactive,
    }


def _member(member: ClinicMember, user: User) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": member.role,
        "added_at": member.added_at,
    }


# ---------------------------------------------------------------------------
# Clinics and members


@router.post(
    "",
    name="create_clinic",
    summary="Create a clinic (admins)",
    status_code=status.HTTP_201_CREATED,
    response_model=ClinicOut,
    responses=error_responses(401, 403, 422),
)
def create_clinic(
    body: ClinicCreate, session: SessionDep, user: CurrentUserDep, response: Response
) -> Any:
    if user.role != Role.ADMIN:
        raise ForbiddenError("Only administrators create clinics.")
    clinic = service.create_clinic(session, name=body.name, admin=user)
    response.headers["Location"] = f"/v1/clinics/{clinic.id}"
    return clinic


@router.get(
    "",
    name="list_clinics",
    summary="Clinics you belong to (all of them, for admins)",
    response_model=list[ClinicOut],
    responses=error_responses(401),
)
def list_clinics(session: ReadSessionDep, user: CurrentUserDep) -> Any:
    return service.clinics_of(session, user)


@router.get(
    "/{clinic_id}",
    name="get_clinic",
    summary="A clinic",
    response_model=ClinicOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_clinic(actor: ClinicActorDep, session: ReadSessionDep) -> Any:
    return service.get_clinic(session, actor.clinic_id)


@router.get(
    "/{clinic_id}/members",
    name="list_members",
    summary="The clinic's owners and clinicians",
    response_model=list[MemberOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_members(actor: ClinicActorDep, session: ReadSessionDep) -> Any:
    _require_user(actor)
    return [_member(m, u) for m, u in service.members(session, actor.clinic_id)]


@router.post(
    "/{clinic_id}/members",
    name="add_member",
    summary="Add an existing account as clinician or owner (owners, admins)",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def add_member(body: MemberAdd, actor: ClinicActorDep, session: SessionDep) -> Any:
    actor.require_owner()
    member, user = service.add_member(
        session, clinic_id=actor.clinic_id, email=body.email, role=MemberRole(body.role)
    )
    return _member(member, user)


@router.delete(
    "/{clinic_id}/members/{user_id}",
    name="remove_member",
    summary="Remove a member (owners, admins)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 422),
    dependencies=[RefreshesMemberViewer],
)
def remove_member(
    user_id: Annotated[int, Path(ge=1, le=2**31 - 1)], actor: ClinicActorDep, session: SessionDep
) -> Response:
    actor.require_owner()
    service.remove_member(session, clinic_id=actor.clinic_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------
# Invitations


@router.post(
    "/{clinic_id}/invitations",
    name="create_invitation",
    summary="A single-use code a patient redeems to consent to this clinic",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    responses=error_responses(*ACTOR_ERRORS),
)
def create_invitation(actor: ClinicActorDep, session: SessionDep, settings: SettingsDep) -> Any:
    _require_user(actor)
    invitation, code = service.create_invitation(
        session, actor=actor, now=utcnow(), valid_for=timedelta(days=settings.invitation_days)
    )
    return {**invitation.model_dump(), "code": code}


@router.get(
    "/{clinic_id}/invitations",
    name="list_invitations",
    summary="Invitations made, without their codes",
    response_model=list[InvitationOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_invitations(actor: ClinicActorDep, session: ReadSessionDep) -> list[PatientInvitation]:
    _require_user(actor)
    return service.invitations(session, actor.clinic_id)


# ---------------------------------------------------------------------------
# Patients


@router.get(
    "/{clinic_id}/patients",
    name="list_patients",
    summary="Linked patients: programs, adherence, latest pain, holds",
    response_model=PatientPage,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_patients(
    actor: ClinicActorDep,
    session: ReadSessionDep,
    snapshot: CatalogDep,
    page: PageDep,
    response: Response,
    flag: Annotated[
        Literal["pain_hold", "inactive"] | None,
        Query(description="Only patients with a pain hold, or with no session in 7 days."),
    ] = None,
) -> Any:
    actor.require(Scope.PATIENTS_READ)
    found = service.patient_summaries(
        session, clinic_id=actor.clinic_id, snapshot=_clinic_view(actor, snapshot), now=utcnow()
    )
    if flag is not None:
        found = [s for s in found if getattr(s, flag)]
    response.headers["Cache-Control"] = PRIVATE
    return envelope([_summary(s) for s in page.slice(found)], len(found), page)


def _patient(actor: ClinicActor, session: SessionDep, patient_id: int) -> User:
    return service.linked_patient(session, actor.clinic_id, patient_id)


@router.get(
    "/{clinic_id}/patients/{patient_id}",
    name="get_patient",
    summary="One linked patient's summary",
    response_model=PatientSummaryOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_patient(
    patient_id: PatientIdPath, actor: ClinicActorDep, session: ReadSessionDep, snapshot: CatalogDep
) -> Any:
    actor.require(Scope.PATIENTS_READ)
    _patient(actor, session, patient_id)
    summaries = service.patient_summaries(
        session, clinic_id=actor.clinic_id, snapshot=_clinic_view(actor, snapshot), now=utcnow()
    )
    return next(_summary(s) for s in summaries if s.user.id == patient_id)


@router.get(
    "/{clinic_id}/patients/{patient_id}/enrollments",
    name="list_patient_enrollments",
    summary="A patient's programs, each stage's evaluation and history",
    response_model=list[EnrollmentDetail],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_patient_enrollments(
    patient_id: PatientIdPath, actor: ClinicActorDep, session: ReadSessionDep, snapshot: CatalogDep
) -> list[EnrollmentDetail]:
    actor.require(Scope.PATIENTS_READ)
    patient = _patient(actor, session, patient_id)
    assert patient.id is not None
    states = progress.enrollment_states(
        session, user_id=patient.id, snapshot=_clinic_view(actor, snapshot), now=utcnow()
    )
    return [present.detail_of(session, state) for state in states]


@router.post(
    "/{clinic_id}/patients/{patient_id}/enrollments",
    name="assign_program",
    summary="Assign a program to a patient: a public one, or one of the clinic's own",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentDetail,
    responses=error_responses(401, 403, 404, 409, 422),
    dependencies=[RefreshesPatientViewer],
)
def assign_program(
    patient_id: PatientIdPath,
    body: AssignProgram,
    actor: ClinicActorDep,
    session: SessionDep,
    snapshot: CatalogDep,
) -> EnrollmentDetail:
    actor.require(Scope.PROGRAMS_WRITE)
    patient = _patient(actor, session, patient_id)
    program = programs.assignable_program(snapshot, clinic_id=actor.clinic_id, slug=body.program)
    now = utcnow()
    service.assign_program(session, actor=actor, patient=patient, program=program, now=now)
    assert patient.id is not None
    state = progress.enrollment_state(session, user_id=patient.id, program=program, now=now)
    return present.detail_of(session, state)


@router.put(
    "/{clinic_id}/patients/{patient_id}/enrollments/{program}/stage",
    name="set_patient_stage",
    summary="Set a patient's stage, overriding the rule (recorded with the reason)",
    response_model=EnrollmentDetail,
    responses=error_responses(*ACTOR_ERRORS),
    dependencies=[RefreshesPatientViewer],
)
def set_patient_stage(
    patient_id: PatientIdPath,
    program: Annotated[Slug, Path()],
    body: StageOverride,
    actor: ClinicActorDep,
    session: SessionDep,
    snapshot: CatalogDep,
) -> EnrollmentDetail:
    actor.require(Scope.PROGRAMS_WRITE)
    patient = _patient(actor, session, patient_id)
    entry = programs.assignable_program(snapshot, clinic_id=actor.clinic_id, slug=program)
    now = utcnow()
    service.set_stage(
        session,
        actor=actor,
        patient=patient,
        program=entry,
        stage=body.stage,
        reason=body.reason,
        now=now,
    )
    assert patient.id is not None
    state = progress.enrollment_state(session, user_id=patient.id, program=entry, now=now)
    return present.detail_of(session, state)


@router.get(
    "/{clinic_id}/patients/{patient_id}/sessions",
    name="list_patient_sessions",
    summary="A patient's sessions, changes since a cursor",
    response_model=SessionFeed,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_patient_sessions(
    patient_id: PatientIdPath,
    actor: ClinicActorDep,
    session: ReadSessionDep,
    snapshot: CatalogDep,
    since: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> SessionFeed:
    actor.require(Scope.PATIENTS_READ)
    patient = _patient(actor, session, patient_id)
    assert patient.id is not None
    page = sessions.changes_since(
        session,
        user_id=patient.id,
        since=sessions.decode_cursor(since),
        program_id=None,
        limit=limit,
    )
    return present.feed(page, _clinic_view(actor, snapshot))


@router.get(
    "/{clinic_id}/patients/{patient_id}/progress",
    name="get_patient_progress",
    summary="A patient's progress: stage, adherence, pain trend, streak",
    response_model=ProgressOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_patient_progress(
    patient_id: PatientIdPath,
    actor: ClinicActorDep,
    session: ReadSessionDep,
    snapshot: CatalogDep,
    tz: Annotated[str, Query(max_length=64)] = "UTC",
) -> ProgressOut:
    actor.require(Scope.PATIENTS_READ)
    patient = _patient(actor, session, patient_id)
    assert patient.id is not None
    zone = report.parse_zone(tz)
    now = utcnow()
    programs = report.progress_report(
        session, user_id=patient.id, snapshot=_clinic_view(actor, snapshot), now=now, zone=zone
    )
    return ProgressOut.model_validate({"programs": programs, "as_of": now, "timezone": tz})


# ---------------------------------------------------------------------------
# The clinic's own programs

ProgramSlugPath = Annotated[
    str,
    Path(max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", description="The clinic's slug."),
]
IfMatch = Annotated[str | None, Header(max_length=400, description="The ETag you read.")]
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
    "/{clinic_id}/programs",
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
    dependencies=[RefreshesCatalog],
)
def create_clinic_program(
    body: ClinicProgramIn,
    actor: ClinicActorDep,
    session: SessionDep,
    snapshot: CatalogDep,
    response: Response,
) -> Any:
    actor.require(Scope.PROGRAMS_WRITE)
    created = programs.create_program(session, actor=actor, body=body, snapshot=snapshot)
    response.headers["Location"] = f"/v1/clinics/{actor.clinic_id}/programs/{created.body['slug']}"
    return _program_response(created, response)


@router.get(
    "/{clinic_id}/programs",
    name="list_clinic_programs",
    summary="The clinic's own programs, drafts included",
    response_model=ClinicProgramPage,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_clinic_programs(
    actor: ClinicActorDep, session: ReadSessionDep, page: PageDep, response: Response
) -> Any:
    rows, total = programs.list_programs(
        session, clinic_id=actor.clinic_id, limit=page.limit, offset=page.offset
    )
    response.headers["Cache-Control"] = PRIVATE
    return envelope(rows, total, page)


@router.get(
    "/{clinic_id}/programs/{program_slug}",
    name="get_clinic_program",
    summary="One of the clinic's programs, with the ETag an update must send back",
    response_model=ClinicProgramOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_clinic_program(
    program_slug: ProgramSlugPath,
    actor: ClinicActorDep,
    session: ReadSessionDep,
    response: Response,
) -> Any:
    found = programs.get_program(session, clinic_id=actor.clinic_id, slug=program_slug)
    return _program_response(found, response)


@router.put(
    "/{clinic_id}/programs/{program_slug}",
    name="update_clinic_program",
    summary="Edit one of the clinic's programs (If-Match required)",
    description=EDIT_RULE,
    response_model=ClinicProgramOut,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
    dependencies=[RefreshesCatalog],
)
def update_clinic_program(
    program_slug: ProgramSlugPath,
    body: ClinicProgramIn,
    actor: ClinicActorDep,
    session: SessionDep,
    snapshot: CatalogDep,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    actor.require(Scope.PROGRAMS_WRITE)
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
    "/{clinic_id}/programs/{program_slug}",
    name="delete_clinic_program",
    summary="Delete one of the clinic's programs (409 naming the patients who follow it)",
    description=(
        "Refused with 409 while patients follow the program (the body names them) or "
        "once sessions were logged in it (set it to draft instead). `If-Match` is optional "
        "here; when sent, a stale one is 412."
    ),
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 412, 422),
    dependencies=[RefreshesCatalog],
)
def delete_clinic_program(
    program_slug: ProgramSlugPath,
    actor: ClinicActorDep,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    actor.require(Scope.PROGRAMS_WRITE)
    programs.delete_program(session, actor=actor, slug=program_slug, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------
# API clients


@router.post(
    "/{clinic_id}/api-clients",
    name="create_api_client",
    summary="Credentials for a clinic system (owners); the secret is shown once",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiClientCreated,
    responses=error_responses(*ACTOR_ERRORS),
)
def create_api_client(body: ApiClientCreate, actor: ClinicActorDep, session: SessionDep) -> Any:
    _require_user(actor)
    actor.require_owner()
    client, secret = service.create_api_client(
        session, actor=actor, name=body.name, scopes=[scope.value for scope in body.scopes]
    )
    return {**client.model_dump(), "client_secret": secret}


@router.get(
    "/{clinic_id}/api-clients",
    name="list_api_clients",
    summary="The clinic's API clients (without secrets)",
    response_model=list[ApiClientOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_api_clients(actor: ClinicActorDep, session: ReadSessionDep) -> list[ApiClient]:
    _require_user(actor)
    return service.api_clients(session, actor.clinic_id)


@router.delete(
    "/{clinic_id}/api-clients/{api_client_id}",
    name="revoke_api_client",
    summary="Revoke an API client: its tokens stop working at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*ACTOR_ERRORS),
)
def revoke_api_client(
    api_client_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    actor: ClinicActorDep,
    session: SessionDep,
) -> Response:
    _require_user(actor)
    actor.require_owner()
    service.revoke_api_client(
        session, clinic_id=actor.clinic_id, client_id=api_client_id, now=utcnow()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------
# Webhooks


@router.post(
    "/{clinic_id}/webhooks",
    name="create_webhook",
    summary="Subscribe an HTTPS URL to events; the signing secret is shown once",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses={
        201: {"description": "Created", "links": WEBHOOK_LINKS},
        **error_responses(*ACTOR_ERRORS),
    },
)
def create_webhook(
    body: WebhookCreate,
    actor: ClinicActorDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> Any:
    actor.require(Scope.WEBHOOKS_MANAGE)
    subscription, secret = webhooks.create_subscription(
        session,
        clinic_id=actor.clinic_id,
        url=body.url,
        event_types=[event.value for event in body.event_types],
        box=_box(request),
        allow_private=settings.webhook_allow_private_targets,
    )
    return {**subscription.model_dump(), "secret": secret}


@router.get(
    "/{clinic_id}/webhooks",
    name="list_webhooks",
    summary="The clinic's webhook subscriptions",
    response_model=list[WebhookOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_webhooks(actor: ClinicActorDep, session: ReadSessionDep) -> list[WebhookSubscription]:
    actor.require(Scope.WEBHOOKS_MANAGE)
    return webhooks.subscriptions(session, actor.clinic_id)


WebhookIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.delete(
    "/{clinic_id}/webhooks/{webhook_id}",
    name="delete_webhook",
    summary="Delete a webhook subscription and its delivery log",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*ACTOR_ERRORS),
)
def delete_webhook(
    webhook_id: WebhookIdPath, actor: ClinicActorDep, session: SessionDep
) -> Response:
    actor.require(Scope.WEBHOOKS_MANAGE)
    session.delete(webhooks.subscription_of(session, actor.clinic_id, webhook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{clinic_id}/webhooks/{webhook_id}/deliveries",
    name="list_deliveries",
    summary="Deliveries of a subscription, newest first",
    response_model=DeliveryPage,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_deliveries(
    webhook_id: WebhookIdPath, actor: ClinicActorDep, session: ReadSessionDep, page: PageDep
) -> Any:
    actor.require(Scope.WEBHOOKS_MANAGE)
    subscription = webhooks.subscription_of(session, actor.clinic_id, webhook_id)
    assert subscription.id is not None
    rows, total = webhooks.deliveries(
        session, subscription.id, limit=page.limit, offset=page.offset
    )
    return envelope(rows, total, page)


@router.post(
    "/{clinic_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    name="redeliver",
    summary="Send a delivery again (same event id)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def redeliver(
    webhook_id: WebhookIdPath,
    delivery_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    actor: ClinicActorDep,
    session: SessionDep,
) -> Any:
    actor.require(Scope.WEBHOOKS_MANAGE)
    subscription = webhooks.subscription_of(session, actor.clinic_id, webhook_id)
    assert subscription.id is not None
    return webhooks.redeliver(
        session, subscription_id=subscription.id, delivery_id=delivery_id, now=utcnow()
    )


# ---------------------------------------------------------------------------
# The patient's side: consent


@me_router.post(
    "",
    name="link_clinic",
    summary="Consent to a clinic by redeeming its invitation code",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkOut,
    responses=error_responses(401, 409, 422, 429),
)
def link_clinic(
    body: LinkCreate,
    session: SessionDep,
    user: CurrentUserDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> Any:
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(settings.redeem_rate_per_account, scope="redeem", key=str(user.id))
    link = service.redeem(session, patient=user, code=body.code, now=utcnow())
    clinic = service.get_clinic(session, link.clinic_id)
    response.headers["Location"] = "/v1/me/clinic-links"
    return {"clinic_id": clinic.id, "clinic_name": clinic.name, "linked_at": link.created_at}


@me_router.get(
    "",
    name="list_clinic_links",
    summary="Clinics you have consented to",
    response_model=list[LinkOut],
    responses=error_responses(401),
)
def list_clinic_links(session: SessionDep, user: CurrentUserDep) -> Any:
    assert user.id is not None
    return [
        {"clinic_id": clinic.id, "clinic_name": clinic.name, "linked_at": link.created_at}
        for link, clinic in service.links_of(session, user.id)
    ]


@me_router.delete(
    "/{clinic_id}",
    name="unlink_clinic",
    summary="Withdraw consent: the clinic sees nothing more of you, at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
def unlink_clinic(clinic_id: ClinicIdPath, session: SessionDep, user: CurrentUserDep) -> Response:
    assert user.id is not None
    service.withdraw(session, patient_id=user.id, clinic_id=clinic_id, now=utcnow())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
