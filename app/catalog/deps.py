"""The current catalogue snapshot, as a request dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.catalog.snapshot import CatalogSnapshot


async def current_catalog(request: Request) -> CatalogSnapshot:
    snapshot: CatalogSnapshot = await request.app.state.catalog.current()
    return snapshot


CatalogDep = Annotated[CatalogSnapshot, Depends(current_catalog)]
