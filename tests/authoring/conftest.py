"""Admin fixtures: an admin who edits through the API, and a small catalogue to edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select, update

from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.db import Database
from app.progress.models import Enrollment
from tests.conftest import (
    Person,
    make_clinic,  # noqa: F401  (a fixture, shared)
)
from tests.factories import condition, exercise, program

ADMIN = "/v1/admin"


@dataclass
class Editor:
    """An admin at the API: reads documents with their ETags and writes them back."""

    client: TestClient
    person: Person

    @property
    def headers(self) -> dict[str, str]:
        return self.person.headers

    def get(
        self, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx2.Response:
        return self.client.get(ADMIN + path, headers=self.headers | (headers or {}), **kwargs)

    def read(self, path: str) -> tuple[dict[str, Any], str]:
        """The document at `path` and its ETag."""
        response = self.get(path)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body, response.headers["etag"]

    def create(self, plural: str, document: dict[str, Any]) -> httpx2.Response:
        return self.client.post(f"{ADMIN}/{plural}", headers=self.headers, json=document)

    def put(self, path: str, document: dict[str, Any], etag: str | None) -> httpx2.Response:
        headers = self.headers | ({"If-Match": etag} if etag is not None else {})
        return self.client.put(ADMIN + path, headers=headers, json=document)

    def delete(self, path: str, etag: str | None) -> httpx2.Response:
        headers = self.headers | ({"If-Match": etag} if etag is not None else {})
        return self.client.delete(ADMIN + path, headers=headers)

    def edit(self, path: str, **changes: Any) -> httpx2.Response:
        """Read, change some fields, write back with the ETag just read."""
        document, etag = self.read(path)
        return self.put(path, document | changes, etag)

    def remove(self, path: str) -> httpx2.Response:
        _, etag = self.read(path)
        return self.delete(path, etag)


@pytest.fixture
def editor(client: TestClient, admin: Person) -> Editor:
    return Editor(client, admin)


def small_catalogue() -> ContentBundle:
    """One condition, four exercises, a two-stage program: small enough to reason about."""
    return ContentBundle.model_validate(
        {
            "conditions": [condition("hip-pain")],
            "exercises": [exercise(slug) for slug in ("bridge", "clam", "plank", "lunge")],
            "programs": [
                program("hip-plan", ["hip-pain"], [["bridge", "clam"], ["plank", "lunge"]])
            ],
        }
    )


@pytest.fixture
def catalogue(database: Database) -> ContentBundle:
    bundle = small_catalogue()
    with database.write_session() as session:
        apply_content(session, bundle)
    return bundle


def enroll(client: TestClient, database: Database, person: Person, program_slug: str) -> int:
    """Enroll `person` through the API; return the enrollment's id."""
    response = client.post(
        "/v1/me/enrollments", headers=person.headers, json={"program": program_slug}
    )
    assert response.status_code == 201, response.text
    with database.read_session() as session:
        enrollment = session.exec(select(Enrollment).where(Enrollment.user_id == person.id)).one()
    assert enrollment.id is not None
    return enrollment.id


def move_to_stage(database: Database, person: Person, stage: int) -> None:
    """Put every enrollment of `person` at `stage` (as progression would, in fewer steps)."""
    with database.write_session() as session:
        session.execute(
            update(Enrollment)
            .where(col(Enrollment.user_id) == person.id)
            .values(current_stage=stage)
        )
