"""Several instances starting at once on an empty PostgreSQL database, as the image starts
them (`rehab migrate && rehab seed`): every one comes up, and the content is written once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from app.catalog.models import Exercise
from app.core.migrations import head_revision
from tests.scale.conftest import FreshDatabase

INSTANCES = 3
COMMAND = f'"{sys.executable}" -c "from app.cli import main; main()"'


def test_instances_starting_together_all_migrate_and_seed_once(
    fresh_postgres: FreshDatabase, tmp_path: Path
) -> None:
    url = fresh_postgres("start")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
        "ENVIRONMENT": "test",
    }
    script = f"{COMMAND} migrate && {COMMAND} seed"
    starts = [
        subprocess.Popen(  # noqa: S603 (our own command line)
            ["/bin/sh", "-c", script],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(INSTANCES)
    ]
    outputs = [start.communicate(timeout=180)[0] for start in starts]
    for start, output in zip(starts, outputs, strict=True):
        assert start.returncode == 0, output
    seeded = [line for output in outputs for line in output.splitlines() if "Seeded:" in line]
    assert len(seeded) == INSTANCES
    # One start wrote the content; the others found it there and wrote nothing.
    creators = [line for line in seeded if "exercises: 0 created" not in line]
    assert len(creators) == 1, seeded

    engine = create_engine(url)
    with engine.connect() as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        exercises = connection.execute(select(func.count()).select_from(Exercise)).scalar()
    engine.dispose()
    assert revision == head_revision()
    assert exercises
