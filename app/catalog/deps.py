"""The current catalogue snapshot, as a request dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.catalog.snapshot import CatalogSnapshot
from app.core.config import Settings

SNAPSHOT_KEY = "catalog_snapshot"


async def request_snapshot(request: Request) -> CatalogSnapshot:
    """The snapshot this request is served from: the one an outer layer already took, if any."""
    snapshot: CatalogSnapshot | None = request.scope.get("state", {}).get(SNAPSHOT_KEY)
    if snapshot is None:
        snapshot = await request.app.state.catalog.current()
    return snapshot


async def current_catalog(request: Request) -> CatalogSnapshot:
    return await request_snapshot(request)


CatalogDep = Annotated[CatalogSnapshot, Depends(current_catalog)]


async def public_catalog(request: Request) -> tuple[CatalogSnapshot, Settings]:
    """The snapshot and settings for reads that are the same for every viewer."""
    return await request_snapshot(request), request.app.state.settings


PublicCatalogDep = Annotated[tuple[CatalogSnapshot, Settings], Depends(public_catalog)]
