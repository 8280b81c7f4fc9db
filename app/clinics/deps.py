"""Who acts on `/v1/clinics/{clinic_id}/...`, and with what standing: default-deny.

Every clinic route sits on a router made by `clinic_router`, whose dependency
resolves the clinic and the caller's standing in it before the route runs:
its owners and clinicians, admins, and its own API clients get through;
anyone else, signed in or not, learns nothing (404, as if the clinic did not
exist). Routes then say what they need with the typed aliases below: a scope
(`ClinicDep(Scope.PATIENTS_READ)`), a person rather than a system, an owner.
A missing scope or the wrong kind of caller is a 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool

from app.access.policy import Role
from app.clinics.access_log import ACCESS_LOG
from app.clinics.models import Clinic, MemberRole, Scope
from app.clinics.service import ALL_SCOPES, ClinicActor, membership
from app.core.db import Database
from app.core.deps import DATABASE
from app.core.errors import ForbiddenError, NotFoundError, UnauthorizedError
from app.identity.deps import BearerToken, require_second_factor, subject_of
from app.identity.subject import Anonymous, ClientSubject, UserSubject

ClinicIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The clinic's id.")]
NO_SUCH_CLINIC = "No such clinic."


async def clinic_standing(
    request: Request, clinic_id: ClinicIdPath, token: BearerToken
) -> ClinicActor:
    """The caller's standing in this clinic; 401 without a token, 404 for outsiders."""
    subject = await subject_of(request, token)
    if isinstance(subject, Anonymous):
        raise UnauthorizedError("Sign in first: this needs a bearer token.")
    if isinstance(subject, ClientSubject):
        if subject.clinic_id != clinic_id:
            raise NotFoundError(NO_SUCH_CLINIC)
        return ClinicActor(clinic_id=clinic_id, scopes=subject.scopes, client=subject)
    actor = await run_in_threadpool(_person_standing, DATABASE.of(request), subject, clinic_id)
    # Only once standing is known: an outsider learns nothing, not even this.
    require_second_factor(request, subject)
    return actor


def _person_standing(database: Database, subject: UserSubject, clinic_id: int) -> ClinicActor:
    with database.read_session() as session:
        if session.get(Clinic, clinic_id) is None:
            raise NotFoundError(NO_SUCH_CLINIC)
        user = subject.user
        if subject.role == Role.ADMIN:
            return ClinicActor(clinic_id=clinic_id, scopes=ALL_SCOPES, user=user, is_owner=True)
        member = membership(session, clinic_id, subject.user_id)
    if member is None:
        raise NotFoundError(NO_SUCH_CLINIC)
    return ClinicActor(
        clinic_id=clinic_id,
        scopes=ALL_SCOPES,
        user=user,
        is_owner=member.role == MemberRole.OWNER,
    )


StandingDep = Annotated[ClinicActor, Depends(clinic_standing)]


def record_access(request: Request, actor: ClinicActor, patient_ids: Iterable[int]) -> None:
    """Log that `actor` read these patients' data through this request's route."""
    route = request.scope.get("route")
    what = getattr(route, "name", None) or request.url.path
    ACCESS_LOG.of(request).record(actor, patient_ids, what=what, path=request.url.path)


def clinic_router(*, tags: Sequence[str | Enum], **options: Any) -> APIRouter:
    """A router for `/v1/clinics/{clinic_id}/...`: every route on it is default-deny.

    `options` go to the APIRouter (the FHIR interface's own route class, say).
    """
    return APIRouter(
        prefix="/v1/clinics/{clinic_id}",
        tags=list(tags),
        dependencies=[Depends(clinic_standing)],
        **options,
    )


def ClinicDep(  # noqa: N802 (used like a type: `Annotated[ClinicActor, ClinicDep(...)]`)
    scope: Scope | None = None, *, people_only: bool = False, owners_only: bool = False
) -> Any:
    """A clinic route's admission: the scope it needs, or that only people (or owners) may."""

    async def admit(actor: StandingDep) -> ClinicActor:
        if (people_only or owners_only) and actor.user is None:
            raise ForbiddenError("Only the clinic's clinicians can do this, not API clients.")
        if owners_only and not actor.is_owner:
            raise ForbiddenError("Only the clinic's owners (or an admin) may do this.")
        if scope is not None and not actor.has(scope):
            raise ForbiddenError(f"This needs the '{scope.value}' scope.")
        return actor

    admitter: Callable[..., Awaitable[ClinicActor]] = admit
    return Depends(admitter)


# Anyone with standing in the clinic.
ClinicActorDep = Annotated[ClinicActor, ClinicDep()]
# The clinic's clinicians and owners (and admins), never its API clients.
ClinicStaffDep = Annotated[ClinicActor, ClinicDep(people_only=True)]
# The clinic's owners (and admins).
ClinicOwnerDep = Annotated[ClinicActor, ClinicDep(owners_only=True)]
PatientsReaderDep = Annotated[ClinicActor, ClinicDep(Scope.PATIENTS_READ)]
ProgramsReaderDep = Annotated[ClinicActor, ClinicDep(Scope.PROGRAMS_READ)]
ProgramsWriterDep = Annotated[ClinicActor, ClinicDep(Scope.PROGRAMS_WRITE)]
WebhookManagerDep = Annotated[ClinicActor, ClinicDep(Scope.WEBHOOKS_MANAGE)]
FhirReaderDep = Annotated[ClinicActor, ClinicDep(Scope.FHIR_READ)]
