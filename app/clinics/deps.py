"""Who acts on `/v1/clinics/{clinic_id}/...`: its clinicians, admins, or its own API clients.

Anyone else, signed in or not, learns nothing: the clinic answers 404 as if it
did not exist. A missing scope on an API client's token is a 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from sqlmodel import Session

from app.access.policy import Role
from app.clinics.models import ApiClient, Clinic, MemberRole
from app.clinics.service import ALL_SCOPES, ClinicActor, membership
from app.core.deps import DatabaseDep
from app.core.errors import NotFoundError, UnauthorizedError
from app.core.jwt import InvalidTokenError, TokenCodec, TokenType
from app.identity.deps import BearerToken, TokenCodecDep
from app.identity.service import principal_from_access_token

ClinicIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The clinic's id.")]


def _client_actor(
    session: Session, codec: TokenCodec, token: str, clinic: Clinic | None
) -> ClinicActor:
    try:
        claims = codec.decode(token, expected=TokenType.CLIENT)
        client_pk = int(str(claims["sub"]).removeprefix("client:"))
    except (InvalidTokenError, ValueError) as exc:
        raise UnauthorizedError(
            "The access token is invalid, expired or revoked.", invalid_token=True
        ) from exc
    client = session.get(ApiClient, client_pk)
    if client is None or client.revoked_at is not None:
        raise UnauthorizedError("This API client has been revoked.", invalid_token=True)
    if clinic is None or client.clinic_id != clinic.id or claims.get("cid") != clinic.id:
        raise NotFoundError("No such clinic.")
    scopes = frozenset(str(claims.get("scope", "")).split()) & frozenset(client.scopes)
    return ClinicActor(clinic_id=clinic.id, scopes=scopes, client=client)


def clinic_actor(
    clinic_id: ClinicIdPath, database: DatabaseDep, codec: TokenCodecDep, token: BearerToken
) -> ClinicActor:
    if token is None:
        raise UnauthorizedError("Sign in first: this needs a bearer token.")
    with database.read_session() as session:
        clinic = session.get(Clinic, clinic_id)
        try:
            principal = principal_from_access_token(session, token, codec)
        except InvalidTokenError:
            return _client_actor(session, codec, token, clinic)
        user = principal.user
        assert user.id is not None
        if clinic is None:
            raise NotFoundError("No such clinic.")
        if user.role == Role.ADMIN:
            return ClinicActor(clinic_id=clinic_id, scopes=ALL_SCOPES, user=user, is_owner=True)
        member = membership(session, clinic_id, user.id)
        if member is None:
            raise NotFoundError("No such clinic.")
        return ClinicActor(
            clinic_id=clinic_id,
            scopes=ALL_SCOPES,
            user=user,
            is_owner=member.role == MemberRole.OWNER,
        )


ClinicActorDep = Annotated[ClinicActor, Depends(clinic_actor)]
