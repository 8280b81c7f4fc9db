"""The signed-in person's routes under `/v1/me`: enrollments, sessions, progress."""

from __future__ import annotations

from fastapi import APIRouter

from app.progress.routers import enrollments, progress, sessions

# Included by the app one by one, not through a router of their own: FastAPI matches a
# request against every router it is nested in, again when it hands the request on.
routers: tuple[APIRouter, ...] = tuple(
    part.router
    for part in (enrollments, sessions, progress)  # in this order in the document
)
