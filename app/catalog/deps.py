"""What a catalogue read needs: the current snapshot, and who is looking.

The catalogue does not know how far a person has come (that is progress's
business) nor which clinics they work in: it asks a `ViewerSource`, a
protocol progress implements and the application wires in, for the `Viewer`
the lock policy takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from app.access.policy import ANONYMOUS, Viewer
from app.access.presenter import ExercisePresenter
from app.catalog.cache import CatalogCache
from app.catalog.snapshot import CatalogSnapshot
from app.core.config import Settings
from app.core.deps import MEDIA_SIGNER, SETTINGS
from app.core.state import StateKey
from app.identity.deps import bearer_token

SNAPSHOT_KEY = "catalog_snapshot"


class ViewerSource(Protocol):
    """Who a bearer token's holder is, as the lock policy sees them."""

    async def viewer(self, token: str, snapshot: CatalogSnapshot) -> Viewer:
        """The token's viewer (401 for a token that does not hold), kept for a moment."""
        ...

    def remembered(self, token: str) -> Viewer | None:
        """The token's viewer if it was checked a moment ago, without asking anyone."""
        ...


CATALOG = StateKey[CatalogCache]("catalog")
VIEWERS = StateKey[ViewerSource]("viewers")


async def request_snapshot(request: Request) -> CatalogSnapshot:
    """The snapshot this request is served from: the one an outer layer already took, if any."""
    snapshot: CatalogSnapshot | None = request.scope.get("state", {}).get(SNAPSHOT_KEY)
    if snapshot is None:
        snapshot = await CATALOG.of(request).current()
    return snapshot


async def current_catalog(request: Request) -> CatalogSnapshot:
    return await request_snapshot(request)


CatalogDep = Annotated[CatalogSnapshot, Depends(current_catalog)]


async def public_catalog(request: Request) -> tuple[CatalogSnapshot, Settings]:
    """The snapshot and settings for reads that are the same for every viewer."""
    return await request_snapshot(request), SETTINGS.of(request)


PublicCatalogDep = Annotated[tuple[CatalogSnapshot, Settings], Depends(public_catalog)]


@dataclass(frozen=True, slots=True)
class CatalogView:
    """What a personalised catalogue read needs, resolved as one dependency (each costs)."""

    snapshot: CatalogSnapshot
    settings: Settings
    presenter: ExercisePresenter


# Catalogue routes declare the bearer scheme in OpenAPI themselves (`SIGNED_IN_OPTIONAL`)
# and read the header here: a dependency level less on the hottest routes.
SIGNED_IN_OPTIONAL: dict[str, Any] = {"security": [{"OAuth2PasswordBearer": []}]}


async def catalog_view(request: Request) -> CatalogView:
    token = bearer_token(request.headers.get("authorization"))
    snapshot = await request_snapshot(request)
    viewer = ANONYMOUS
    if token is not None:
        viewer = await VIEWERS.of(request).viewer(token, snapshot)
    presenter = ExercisePresenter(viewer, MEDIA_SIGNER.of(request))
    return CatalogView(snapshot, SETTINGS.of(request), presenter)


CatalogViewDep = Annotated[CatalogView, Depends(catalog_view)]
