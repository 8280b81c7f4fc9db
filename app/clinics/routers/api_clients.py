"""A clinic's API clients: credentials for its practice system, made and revoked by owners."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response, status

from app.clinics import service
from app.clinics.deps import ClinicOwnerDep, ClinicStaffDep, clinic_router
from app.clinics.schemas import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientOut,
    ApiClientSecretOut,
)
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.identity.models import ApiClient

router = clinic_router(tags=["clinic API clients"])
ACTOR_ERRORS = (401, 403, 404, 422)
ApiClientIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "/api-clients",
    name="create_api_client",
    summary="Credentials for a clinic system (owners); the secret is shown once",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiClientCreated,
    responses=error_responses(*ACTOR_ERRORS),
)
def create_api_client(
    body: ApiClientCreate, actor: ClinicOwnerDep, session: SessionDep
) -> ApiClientCreated:
    """Owners only. The `client_secret` is shown in this answer only; the system gets tokens
    with `grant_type=client_credentials` and the scopes given here."""
    client, secret = service.create_api_client(
        session, actor=actor, name=body.name, scopes=[scope.value for scope in body.scopes]
    )
    return ApiClientCreated.model_validate({**client.model_dump(), "client_secret": secret})


@router.get(
    "/api-clients",
    name="list_api_clients",
    summary="The clinic's API clients (without secrets)",
    response_model=list[ApiClientOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_api_clients(actor: ClinicStaffDep, session: ReadSessionDep) -> list[ApiClient]:
    """Each client's id, name, scopes and whether it is revoked; never the secret."""
    return service.api_clients(session, actor.clinic_id)


@router.delete(
    "/api-clients/{api_client_id}",
    name="revoke_api_client",
    summary="Revoke an API client: its tokens stop working at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*ACTOR_ERRORS),
)
def revoke_api_client(
    api_client_id: ApiClientIdPath, actor: ClinicOwnerDep, session: SessionDep
) -> Response:
    """Its tokens stop working at once and it cannot get new ones."""
    service.revoke_api_client(
        session, clinic_id=actor.clinic_id, client_id=api_client_id, now=utcnow()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api-clients/{api_client_id}/rotate-secret",
    name="rotate_api_client_secret",
    summary="A new secret for an API client (owners); the old one stops working now",
    response_model=ApiClientSecretOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def rotate_api_client_secret(
    api_client_id: ApiClientIdPath, actor: ClinicOwnerDep, session: SessionDep
) -> ApiClientSecretOut:
    """Tokens issued with the old secret keep working until they expire
    (`CLIENT_TOKEN_MINUTES`); revoke the client to end them at once."""
    client, secret = service.rotate_api_client_secret(
        session, clinic_id=actor.clinic_id, client_id=api_client_id
    )
    return ApiClientSecretOut(client_id=client.client_id, client_secret=secret)
