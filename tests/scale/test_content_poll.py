"""The poll behind the relay: content written by another process that told no one (`rehab
import` from a shell, a message lost while the bus was down) is served by an idle instance's
very first request once one poll interval has passed."""

from __future__ import annotations

import time
from pathlib import Path

from app.authoring.content import apply_content
from app.core.db import Database
from tests.scale.conftest import FreshDatabase
from tests.scale.instances import bundle, instance_settings, two_instances

POLL_SECONDS = 0.5


def test_an_idle_instance_serves_a_silent_content_write_on_its_first_request(
    fresh_postgres: FreshDatabase, tmp_path: Path
) -> None:
    settings = instance_settings(
        fresh_postgres("poll"), tmp_path, change_relay="off", content_poll_seconds=POLL_SECONDS
    )
    with two_instances(settings) as (_, b):
        assert b.client.get("/v1/exercises/alpha-move").json()["name"] == "Alpha Move"
        shell = Database.from_settings(settings)  # another process: its hub tells no instance
        try:
            with shell.write_session() as session:
                apply_content(session, bundle(title="Alpha Move Imported"))
        finally:
            shell.dispose()
        time.sleep(POLL_SECONDS * 4)  # idle: no request reaches B meanwhile
        first = b.client.get("/v1/exercises/alpha-move")
        assert first.json()["name"] == "Alpha Move Imported"
