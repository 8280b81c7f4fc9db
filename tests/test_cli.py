"""The `rehab` command, run as an operator runs it, against a fresh SQLite file.

Settings come from the environment, so each test points DATA_DIR at its own
temporary folder (and clears the cached settings before and after).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select
from typer.testing import CliRunner, Result

from app.authoring.seed import read_content_dir
from app.catalog.models import Exercise
from app.cli import cli
from app.core.config import PROJECT_ROOT, get_settings
from app.core.db import Database
from app.core.models import utcnow
from app.identity.models import User
from app.identity.schemas import RegisterIn
from app.identity.service import authenticate, register
from app.outcomes.models import Reminder
from tests.factories import exercise

# Anything in the caller's environment that would point the CLI elsewhere.
SETTINGS_VARIABLES = (
    "DATABASE_URL",
    "SEED_DIR",
    "MEDIA_DIR",
    "SECRET_KEY",
    "ENVIRONMENT",
    "SQL_ECHO",
    "MEDIA_BASE_URL",
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DATA_DIR (so a fresh SQLite file) for the CLI to use."""
    folder = tmp_path / "var"
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(folder))
    monkeypatch.chdir(tmp_path)  # no stray `.env` file is read
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def migrated(data_dir: Path) -> Path:
    result = run("migrate")
    assert result.exit_code == 0, result.output
    return data_dir


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def exercise_slugs() -> set[str]:
    database = Database.from_settings(get_settings())
    try:
        with database.read_session() as session:
            return set(session.exec(select(Exercise.slug)).all())
    finally:
        database.dispose()


def fedb_record(record_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": record_id,
        "name": record_id.replace("_", " "),
        "force": None,
        "level": "intermediate",
        "mechanic": "isolation",
        "equipment": "dumbbell",
        "primaryMuscles": ["biceps"],
        "secondaryMuscles": ["forearms"],
        "instructions": ["Curl up.", "Lower slowly."],
        "category": "strength",
        "images": [f"{record_id}/0.jpg"],
    }
    return values | overrides


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def seed_counts(output: str) -> dict[str, tuple[int, int, int]]:
    """`exercises: 3 created, 0 updated, 0 unchanged; ...` as {kind: (created, updated, same)}."""
    found = re.findall(r"(\w+): (\d+) created, (\d+) updated, (\d+) unchanged", output)
    return {kind: (int(c), int(u), int(s)) for kind, c, u, s in found}


# ---------------------------------------------------------------------------
# migrate and seed


def test_migrate_then_seed_creates_the_authored_content_and_reseeding_changes_nothing(
    data_dir: Path,
) -> None:
    bundle = read_content_dir(PROJECT_ROOT / "seed")
    assert bundle.exercises
    assert bundle.conditions
    assert bundle.programs

    migrate = run("migrate")
    first = run("seed")
    second = run("seed")

    assert migrate.exit_code == 0, migrate.output
    assert "Database is at the latest migration." in migrate.stdout
    assert (data_dir / "rehab.db").is_file()
    assert first.exit_code == 0, first.output
    assert seed_counts(first.stdout) == {
        "exercises": (len(bundle.exercises), 0, 0),
        "conditions": (len(bundle.conditions), 0, 0),
        "programs": (len(bundle.programs), 0, 0),
    }
    assert second.exit_code == 0, second.output
    assert seed_counts(second.stdout) == {
        "exercises": (0, 0, len(bundle.exercises)),
        "conditions": (0, 0, len(bundle.conditions)),
        "programs": (0, 0, len(bundle.programs)),
    }
    assert exercise_slugs() == {item.slug for item in bundle.exercises}


def test_installed_command_migrates_and_seeds_in_a_fresh_interpreter(data_dir: Path) -> None:
    """As `make run` calls it: a new process that has imported nothing of the app yet."""
    command = [sys.executable, "-c", "from app.cli import main; main()"]
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    for step in ("migrate", "seed"):
        finished = subprocess.run(  # noqa: S603 (our own command line, no shell)
            [*command, step], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert finished.returncode == 0, finished.stdout + finished.stderr
    assert exercise_slugs()


def test_seed_with_a_broken_file_names_the_file_and_writes_nothing(
    migrated: Path, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    (content / "exercises").mkdir(parents=True)
    (content / "exercises" / "good.yaml").write_text(
        yaml.safe_dump({"exercises": [exercise("bird-dog")]}), encoding="utf-8"
    )
    (content / "exercises" / "broken.yaml").write_text(
        yaml.safe_dump({"exercises": [exercise("clam-shell", difficulty="impossible")]}),
        encoding="utf-8",
    )

    result = run("seed", str(content))

    assert result.exit_code == 1, result.output
    assert "The content has problems; nothing was written:" in result.stderr
    [problem] = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert "exercises/broken.yaml (clam-shell): difficulty:" in problem
    assert "Seeded" not in result.stdout
    assert exercise_slugs() == set()


def test_seed_of_a_missing_folder_exits_1(migrated: Path, tmp_path: Path) -> None:
    result = run("seed", str(tmp_path / "nowhere"))

    assert result.exit_code == 1, result.output
    assert "no such content folder" in result.stderr


# ---------------------------------------------------------------------------
# import


def test_import_reports_what_it_created_and_is_idempotent(migrated: Path, tmp_path: Path) -> None:
    library = write_json(
        tmp_path / "library.json", [fedb_record("Hammer_Curl"), fedb_record("Zottman_Curl")]
    )

    first = run("import", "--format", "free-exercise-db", str(library))
    second = run("import", "--format", "free-exercise-db", str(library))

    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        "Imported from free-exercise-db: 2 created, 0 updated, 0 unchanged, 0 skipped as invalid."
    )
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated, 2 unchanged" in second.stdout
    assert exercise_slugs() == {"fedb-hammer-curl", "fedb-zottman-curl"}


def test_import_with_the_image_folder_copies_the_thumbnails_it_links(
    migrated: Path, tmp_path: Path
) -> None:
    library = write_json(
        tmp_path / "library.json", [fedb_record("Hammer_Curl"), fedb_record("Zottman_Curl")]
    )
    images = tmp_path / "exercises"
    (images / "Hammer_Curl").mkdir(parents=True)
    (images / "Hammer_Curl" / "0.jpg").write_bytes(b"\xff\xd8\xff\xe0 a jpeg")

    result = run("import", "--format", "free-exercise-db", str(library), "--images", str(images))

    assert result.exit_code == 0, result.output
    copied = migrated / "media" / "free-exercise-db" / "Hammer_Curl" / "0.jpg"
    assert copied.read_bytes() == b"\xff\xd8\xff\xe0 a jpeg"
    database = Database.from_settings(get_settings())
    try:
        with database.read_session() as session:
            thumbnails = dict(session.exec(select(Exercise.slug, Exercise.thumbnail)).all())
    finally:
        database.dispose()
    assert thumbnails == {
        "fedb-hammer-curl": "free-exercise-db/Hammer_Curl/0.jpg",
        "fedb-zottman-curl": None,  # its image is not in the folder
    }


def test_import_of_a_file_with_bad_records_lists_each_one_and_writes_nothing(
    migrated: Path, tmp_path: Path
) -> None:
    library = write_json(
        tmp_path / "library.json",
        [
            fedb_record("Hammer_Curl"),
            fedb_record("Bad_Level", level="guru"),
            fedb_record("Bad_Gear", equipment="rowing machine"),
            fedb_record("Hammer_Curl"),
        ],
    )

    result = run("import", "--format", "free-exercise-db", str(library))

    assert result.exit_code == 1, result.output
    assert f"{library}: 3 invalid record(s); nothing was written:" in result.stderr
    listed = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(listed) == 3
    assert "record 1 (id 'Bad_Level'): level:" in listed[0]
    assert "record 2 (id 'Bad_Gear'): equipment:" in listed[1]
    assert "record 3 (id 'Hammer_Curl'): the id appears more than once" in listed[2]
    assert "Imported" not in result.stdout
    assert exercise_slugs() == set()


def test_import_of_a_file_that_is_not_json_exits_1(migrated: Path, tmp_path: Path) -> None:
    library = tmp_path / "library.json"
    library.write_text("id,name\nPlank,Plank\n", encoding="utf-8")

    result = run("import", "--format", "free-exercise-db", str(library))

    assert result.exit_code == 1, result.output
    assert "the file is not valid JSON" in result.stderr
    assert exercise_slugs() == set()


def test_import_with_skip_invalid_imports_the_good_records_and_reports_the_rest(
    migrated: Path, tmp_path: Path
) -> None:
    library = write_json(
        tmp_path / "library.json",
        [
            fedb_record("Hammer_Curl"),
            fedb_record("Bad_Level", level="guru"),
            fedb_record("Bool_Name", name=True),
        ],
    )

    result = run("import", "--format", "free-exercise-db", "--skip-invalid", str(library))

    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == 2
    assert "record 1 (id 'Bad_Level')" in skipped[0]
    assert "record 2 (id 'Bool_Name')" in skipped[1]
    assert "1 created, 0 updated, 0 unchanged, 2 skipped as invalid." in result.stdout
    assert exercise_slugs() == {"fedb-hammer-curl"}


def test_import_refuses_an_unknown_format(migrated: Path, tmp_path: Path) -> None:
    library = write_json(tmp_path / "library.json", [fedb_record("Hammer_Curl")])

    result = run("import", "--format", "wger", str(library))

    assert result.exit_code == 2
    assert exercise_slugs() == set()


# ---------------------------------------------------------------------------
# openapi


def test_openapi_writes_the_document_to_a_file(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"

    result = run("openapi", "--output", str(target))

    assert result.exit_code == 0, result.output
    assert f"Wrote {target}." in result.stdout
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.")
    assert "/v1/exercises" in document["paths"]
    assert "/v1/exercises/{slug}" in document["paths"]


def test_seed_with_placeholder_media_writes_a_file_per_missing_key_once(migrated: Path) -> None:
    data_dir = migrated
    first = run("seed", "--placeholder-media")
    assert first.exit_code == 0, first.output
    videos = list((data_dir / "media" / "videos").glob("*.mp4"))
    thumbnails = list((data_dir / "media" / "thumbnails").glob("*.jpg"))
    assert len(videos) >= 40
    assert len(thumbnails) >= 40
    assert thumbnails[0].read_bytes().startswith(b"\x89PNG")
    second = run("seed", "--placeholder-media")
    assert "Wrote 0 placeholder" in second.output


def test_create_admin_makes_an_administrator_who_can_sign_in(
    migrated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REHAB_ADMIN_PASSWORD", "a sturdy passphrase 42")
    result = run("create-admin", "Boss@Example.com")
    assert result.exit_code == 0, result.output
    assert "boss@example.com" in result.output
    database = Database.from_settings(get_settings())
    try:
        with database.read_session() as session:
            user = session.exec(select(User)).one()
            assert (user.email, user.role) == ("boss@example.com", "admin")
            assert authenticate(session, "boss@example.com", "a sturdy passphrase 42") is not None
    finally:
        database.dispose()


def test_create_admin_promotes_an_existing_account_and_refuses_a_weak_password(
    migrated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REHAB_ADMIN_PASSWORD", "a sturdy passphrase 42")
    assert run("create-admin", "boss@example.com").exit_code == 0
    again = run("create-admin", "boss@example.com")
    assert again.exit_code == 0
    assert "is now an administrator" in again.output
    monkeypatch.setenv("REHAB_ADMIN_PASSWORD", "password123")
    weak = run("create-admin", "other@example.com")
    assert weak.exit_code == 1
    assert "common" in weak.output


# ---------------------------------------------------------------------------
# outcomes: the seed's instruments, reminders and adherence


def test_seed_publishes_the_free_instruments_once(migrated: Path) -> None:
    first, second = run("seed"), run("seed")
    assert "; 3 instrument(s) published." in first.stdout
    assert "; 0 instrument(s) published." in second.stdout


def test_the_worker_queues_reminders_whose_time_has_come(migrated: Path) -> None:
    database = Database.from_settings(get_settings())
    try:
        with database.write_session() as session:
            user = register(
                session,
                RegisterIn(
                    email="early@example.com", password="a sturdy passphrase 42", display_name="E"
                ),
            )
            assert user.id is not None
            session.add(
                Reminder(
                    user_id=user.id,
                    local_time="07:00",
                    weekdays=list(range(7)),
                    timezone="UTC",
                    next_due_at=utcnow() - timedelta(minutes=1),
                )
            )
    finally:
        database.dispose()
    worked = run("worker", "--once")
    assert worked.exit_code == 0, worked.output
    assert "Queued 1 reminder(s)." in worked.stdout
    assert run("send-reminders").stdout.strip() == "Queued 0 reminder(s)."  # moved on
    checked = run("check-adherence")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.strip() == "Queued 0 adherence.low event(s)."
