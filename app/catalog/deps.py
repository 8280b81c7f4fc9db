"""The current catalogue snapshot, as a request dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.catalog.snapshot import CatalogSnapshot
from app.core.config import Settings


async def current_catalog(request: Request) -> CatalogSnapshot:
    snapshot: CatalogSnapshot = await request.app.state.catalog.current()
    return snapshot


CatalogDep = Annotated[CatalogSnapshot, Depends(current_catalog)]


async def public_catalog(request: Request) -> tuple[CatalogSnapshot, Settings]:
    """The snapshot and settings for reads that are the same for every viewer."""
    snapshot: CatalogSnapshot = await request.app.state.catalog.current()
    return snapshot, request.app.state.settings


PublicCatalogDep = Annotated[tuple[CatalogSnapshot, Settings], Depends(public_catalog)]
