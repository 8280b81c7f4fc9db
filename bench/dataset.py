"""Build the benchmark's data set in a fresh database, the way an operator would.

Schema, content and library go in through the `rehab` command (so the bench
exercises the real migrate/seed/import paths); the people and their history
go in through `bench.people` in bulk, because that is volume, not behaviour.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from app.core.models import utcnow
from bench import people
from bench.config import LIBRARY_FILE, BenchConfig
from bench.console import Log
from bench.database import command_env, open_database, reset_database
from bench.library import generate_library, write_records

PROGRAM = "whole-leg-rehabilitation"
IMPORT_ARGS = ("--format", "free-exercise-db", "--skip-invalid")
CATALOGUE_TABLES = ("condition", "program", "exercise")
READER, WRITER = 1, 0  # people.stage_of: person #2 is at stage 2, person #1 at stage 1
OTHER_WRITER = 3  # person #4, at stage 1: writes through the second instance


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    password: str
    stage: int


@dataclass(slots=True)
class Dataset:
    """What the scenarios need to know about the data, and what the report says about it."""

    program: str
    stage1_exercise: str
    reader: Account
    writer: Account
    other_writer: Account
    library: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Step:
    """One timed part of the build; `note` is what its log line says happened."""

    name: str
    note: str = "done"


@contextmanager
def timed(name: str, timings: dict[str, float], log: Log) -> Iterator[Step]:
    step = Step(name)
    started = time.perf_counter()
    yield step
    timings[name] = round(time.perf_counter() - started, 1)
    log(f"{name}: {step.note} ({timings[name]} s)")


def build_dataset(config: BenchConfig, log: Log) -> Dataset:
    timings: dict[str, float] = {}
    with timed("reset", timings, log) as step:
        reset_database(config)
        step.note = f"fresh {config.kind} database at {config.database_label}"
    with timed("migrate", timings, log) as step:
        step.note = rehab(config, "migrate")
    with timed("seed", timings, log) as step:
        step.note = rehab(config, "seed")
    with timed("import", timings, log) as step:
        library, step.note = _import_library(config)
    with timed("people", timings, log) as step:
        shape, rows = _insert_people(config)
        step.note = ", ".join(f"{count:,} {name}" for name, count in rows.items())
    return Dataset(
        program=PROGRAM,
        stage1_exercise=shape.first_exercise,
        reader=_account(READER, shape),
        writer=_account(WRITER, shape),
        other_writer=_account(OTHER_WRITER, shape),
        library=library,
        rows=count_rows(config) | rows,
        seconds=timings,
    )


def _account(index: int, shape: people.ProgramShape) -> Account:
    stage = people.stage_of(index, len(shape.stages))
    return Account(people.email_of(index), people.PASSWORD, stage)


def rehab(config: BenchConfig, *args: str) -> str:
    """Run one `rehab` command against the bench database; its last line of output."""
    command = [str(Path(sys.executable).with_name("rehab")), *args]
    done = subprocess.run(  # noqa: S603 (our own command line, no shell)
        command,
        cwd=config.root,
        env=command_env(config),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`rehab {' '.join(args)}` failed:\n{done.stdout}{done.stderr}")
    lines = (done.stdout.strip() or "done").splitlines()
    return lines[-1]


def _import_library(config: BenchConfig) -> tuple[str, str]:
    """The real library when the shared file exists, else a generated one of the same size."""
    if LIBRARY_FILE.is_file():
        note = rehab(config, "import", *IMPORT_ARGS, str(LIBRARY_FILE))
        return f"free-exercise-db ({LIBRARY_FILE})", note
    source = f"generated, {config.library_size} records ({LIBRARY_FILE} not found)"
    with tempfile.TemporaryDirectory(prefix="rehab-bench-") as folder:
        path = write_records(generate_library(config.library_size), Path(folder) / "library.json")
        return source, rehab(config, "import", *IMPORT_ARGS, str(path))


def _insert_people(config: BenchConfig) -> tuple[people.ProgramShape, dict[str, int]]:
    with open_database(config) as database, database.engine.begin() as connection:
        shape = people.program_shape(connection, PROGRAM)
        rows = people.insert_people(
            connection, shape, users=config.users, sessions=config.sessions, now=utcnow()
        )
    if config.kind == "postgresql":
        analyse(config)
    return shape, rows


def analyse(config: BenchConfig) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load.

    Autovacuum would do the same within a minute or so; doing it now keeps the
    first measured round from depending on when it happens to run.
    """
    with open_database(config) as database, database.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def count_sessions(config: BenchConfig) -> int:
    """Every session stored, deleted ones too: what a write scenario must grow."""
    with open_database(config) as database, database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM session_log")).scalar_one())


def count_rows(config: BenchConfig) -> dict[str, int]:
    with open_database(config) as database, database.engine.connect() as connection:
        return {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 (fixed names)
            for table in CATALOGUE_TABLES
        }
