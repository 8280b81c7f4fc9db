"""The signed-in person's routes under `/v1/me`: enrollments, sessions, progress."""

from __future__ import annotations

from fastapi import APIRouter

from app.progress.routers import enrollments, progress, sessions

router = APIRouter()
for part in (enrollments, sessions, progress):  # in this order in the document
    router.include_router(part.router)
