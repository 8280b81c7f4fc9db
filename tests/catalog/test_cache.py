"""The in-memory catalogue follows content written by any process."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from app.authoring.content import apply_content
from app.catalog.schemas import ContentBundle
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.factories import exercise


def write(database: Database, name: str) -> None:
    bundle = ContentBundle.model_validate({"exercises": [exercise("bridge", name=name)]})
    with database.write_session() as session:
        apply_content(session, bundle)


def test_an_edit_by_another_process_is_served_after_the_poll_interval(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings.model_copy(update={"content_poll_seconds": 0.2}), database=database)
    write(database, "Before")
    with TestClient(app) as client:
        assert client.get("/v1/exercises/bridge").json()["name"] == "Before"
        write(database, "After")  # as `rehab seed` in another process would
        deadline = time.monotonic() + 5
        names = []
        while time.monotonic() < deadline:
            names.append(client.get("/v1/exercises/bridge").json()["name"])
            if names[-1] == "After":
                break
            time.sleep(0.05)
        assert names[-1] == "After"
        # Until then, reads were answered from the snapshot in hand, never refused.
        assert set(names) <= {"Before", "After"}
