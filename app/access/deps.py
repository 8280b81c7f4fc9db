"""Who is looking, as the lock policy sees them, and the presenter that renders for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session, select

from app.access.policy import ANONYMOUS, Role, Viewer
from app.access.presenter import ExercisePresenter
from app.access.viewer_cache import TokenCache
from app.catalog.deps import request_snapshot
from app.catalog.snapshot import CatalogSnapshot
from app.clinics.models import ClinicMember
from app.core.config import Settings
from app.core.db import Database
from app.core.jwt import TokenCodec
from app.core.models import utcnow
from app.identity.deps import CurrentUserDep, resolve_principal
from app.progress.service import viewer_progress


def load_viewer(
    database: Database, codec: TokenCodec, token: str, snapshot: CatalogSnapshot
) -> Viewer:
    """The signed-in viewer: role, stage reached per program, and what opens the next."""
    principal = resolve_principal(database, codec, token)
    user = principal.user
    assert user.id is not None
    role = Role(user.role)
    with database.read_session() as session:
        stages, hints = viewer_progress(session, user_id=user.id, snapshot=snapshot, now=utcnow())
        # Only clinicians work in clinics (joining one makes a member a clinician), so
        # members' reads, the common case, cost no extra statement.
        clinic_ids = clinic_ids_of(session, user.id) if role == Role.CLINICIAN else frozenset()
    return Viewer(
        user_id=user.id,
        role=role,
        current_stages=stages,
        stage_hints=hints,
        clinic_ids=clinic_ids,
    )


def clinic_ids_of(session: Session, user_id: int) -> frozenset[int]:
    """The clinics a person works in: their own programs are visible to them."""
    rows = session.exec(select(ClinicMember.clinic_id).where(ClinicMember.user_id == user_id))
    return frozenset(rows)


@dataclass(frozen=True, slots=True)
class CatalogView:
    """What a catalogue read needs, resolved as one dependency (each one costs on a hot path)."""

    snapshot: CatalogSnapshot
    settings: Settings
    presenter: ExercisePresenter


# Catalogue routes declare the bearer scheme in OpenAPI themselves (`SIGNED_IN_OPTIONAL`)
# and read the header here: a dependency level less on the hottest routes.
SIGNED_IN_OPTIONAL: dict[str, Any] = {"security": [{"OAuth2PasswordBearer": []}]}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, as OAuth2PasswordBearer reads it."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" else None


async def catalog_view(request: Request) -> CatalogView:
    state = request.app.state
    token = bearer_token(request.headers.get("authorization"))
    snapshot = await request_snapshot(request)
    viewer = ANONYMOUS
    if token is not None:
        viewers: TokenCache[Viewer] = state.viewers
        viewer = await viewers.get_or_load(
            token,
            lambda: load_viewer(state.db, state.tokens, token, snapshot),
            lambda loaded: loaded.user_id or 0,
        )
    return CatalogView(snapshot, state.settings, ExercisePresenter(viewer, state.media))


def forget_viewer(request: Request, user_id: int | None) -> None:
    """The person's stage or sessions changed: their next read is fresh."""
    if user_id is not None:
        request.app.state.viewers.forget_user(user_id)
        request.app.state.progress_reports.forget_user(user_id)


def forget_account(request: Request, user_id: int | None) -> None:
    """The person's sign-in or account changed: their tokens are checked afresh too."""
    forget_viewer(request, user_id)
    if user_id is not None:
        request.app.state.principals.forget_user(user_id)


CatalogViewDep = Annotated[CatalogView, Depends(catalog_view)]


async def _forget_viewer_after(request: Request, user: CurrentUserDep) -> AsyncIterator[None]:
    yield
    forget_viewer(request, user.id)


async def _forget_account_after(request: Request, user: CurrentUserDep) -> AsyncIterator[None]:
    yield
    forget_account(request, user.id)


# On routes that change the caller's stage or sessions.
RefreshesViewer = Depends(_forget_viewer_after, scope="function")
# On routes that change the caller's sign-in or account.
RefreshesAccount = Depends(_forget_account_after, scope="function")
