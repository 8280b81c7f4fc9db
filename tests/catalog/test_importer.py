"""`rehab import --format free-exercise-db FILE`: mapping, idempotence and rejections.

Every file is built inside the test, in the free-exercise-db format
(/work/shared/data/free-exercise-db/schema.json), except the one test that
imports the real library and skips when it is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from app.authoring.content import apply_content
from app.authoring.importer import (
    SOURCE,
    ImportReport,
    LibraryImportError,
    import_free_exercise_db,
    parse_records,
    to_exercise_values,
)
from app.authoring.report import ContentError
from app.catalog.loading import read_content_version
from app.catalog.models import Exercise, StageExercise
from app.catalog.schemas import ContentBundle
from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.core.schemas import SLUG_PATTERN
from tests.factories import exercise

REAL_LIBRARY = PROJECT_ROOT.parent / "shared" / "data" / "free-exercise-db" / "exercises.json"
PREMIUM_KEYS = ("instructions", "video", "cues", "mistakes", "precautions")


def fedb_record(record_id: str, **overrides: Any) -> dict[str, Any]:
    """One valid record in the free-exercise-db format."""
    values: dict[str, Any] = {
        "id": record_id,
        "name": record_id.replace("_", " "),
        "force": "pull",
        "level": "beginner",
        "mechanic": "compound",
        "equipment": "body only",
        "primaryMuscles": ["abdominals"],
        "secondaryMuscles": [],
        "instructions": [f"Set up for {record_id}.", "Move slowly."],
        "category": "strength",
        "images": [f"{record_id}/0.jpg", f"{record_id}/1.jpg"],
    }
    return values | overrides


def without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name != key}


def write_library(folder: Path, records: Any, name: str = "exercises.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def import_file(database: Database, path: Path, *, skip_invalid: bool = False) -> ImportReport:
    with database.write_session() as session:
        return import_free_exercise_db(session, path, skip_invalid=skip_invalid)


def exercises_by_slug(database: Database) -> dict[str, Exercise]:
    with database.read_session() as session:
        rows = list(session.exec(select(Exercise)).all())
        session.expunge_all()
    return {row.slug: row for row in rows}


def exercise_count(database: Database) -> int:
    with database.read_session() as session:
        return session.exec(select(func.count()).select_from(Exercise)).one()


def content_version(database: Database) -> int:
    with database.read_session() as session:
        return read_content_version(session)


def authored_fields(row: Exercise) -> tuple[Any, ...]:
    return (
        row.id,
        row.name,
        row.summary,
        row.thumbnail,
        row.video,
        row.body_regions,
        row.muscles,
        row.equipment,
        str(row.difficulty),
        row.instructions,
        row.cues,
        row.mistakes,
        row.precautions,
        row.updated_at,
    )


def mapped(**overrides: Any) -> dict[str, Any]:
    """The catalogue values one record maps to."""
    records, problems = parse_records(json.dumps([fedb_record("Probe", **overrides)]).encode())
    assert problems == []
    return to_exercise_values(records[0])


def rejection_of(record: Any) -> list[str]:
    """The problems reported for a file holding one good record and `record`."""
    raw = json.dumps([fedb_record("Good_One"), record]).encode()
    records, problems = parse_records(raw)
    assert [r.id for r in records] == ["Good_One"]
    return problems


# ---------------------------------------------------------------------------
# Happy path: records become published exercises outside any program


def test_imported_records_become_published_exercises_outside_any_program(
    database: Database, tmp_path: Path
) -> None:
    path = write_library(
        tmp_path,
        [
            fedb_record("3_4_Sit-Up", name="3/4 Sit-Up"),
            fedb_record(
                "Romanian_Deadlift",
                name="Romanian Deadlift",
                level="expert",
                equipment="bands",
                primaryMuscles=["hamstrings", "glutes"],
                secondaryMuscles=["glutes", "calves", "lower back", "hamstrings"],
                instructions=["Hinge at the hips.", "Keep the back flat."],
                images=["Romanian_Deadlift/0.jpg"],
            ),
        ],
    )

    report = import_file(database, path)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (2, 0, 0, [])
    rows = exercises_by_slug(database)
    assert set(rows) == {"fedb-3-4-sit-up", "fedb-romanian-deadlift"}
    deadlift = rows["fedb-romanian-deadlift"]
    assert deadlift.name == "Romanian Deadlift"
    assert deadlift.status == "published"
    assert (deadlift.source, deadlift.external_id) == (SOURCE, "Romanian_Deadlift")
    assert deadlift.muscles == ["hamstrings", "glutes", "calves", "lower back"]
    assert deadlift.body_regions == ["thigh", "hip"]
    assert deadlift.equipment == ["resistance band"]
    assert deadlift.difficulty == "advanced"
    assert deadlift.instructions == ["Hinge at the hips.", "Keep the back flat."]
    assert deadlift.thumbnail is None  # no image folder given: no link to an absent file
    assert deadlift.video is None
    assert (deadlift.cues, deadlift.mistakes, deadlift.precautions) == ([], [], [])
    sit_up = rows["fedb-3-4-sit-up"]
    assert sit_up.equipment == ["bodyweight"]
    assert sit_up.body_regions == ["core"]
    assert sit_up.difficulty == "beginner"
    with database.read_session() as session:
        placed = session.exec(select(func.count()).select_from(StageExercise)).one()
    assert placed == 0


def test_importing_new_exercises_bumps_the_content_version(
    database: Database, tmp_path: Path
) -> None:
    before = content_version(database)

    import_file(database, write_library(tmp_path, [fedb_record("Plank")]))

    assert content_version(database) == before + 1


@pytest.mark.parametrize(
    ("equipment", "expected"),
    [
        ("body only", ["bodyweight"]),
        ("bands", ["resistance band"]),
        ("kettlebells", ["kettlebell"]),
        ("foam roll", ["foam roller"]),
        ("dumbbell", ["dumbbell"]),
        ("e-z curl bar", ["e-z curl bar"]),
        (None, []),
    ],
)
def test_equipment_is_named_the_way_the_catalogue_names_it(
    equipment: str | None, expected: list[str]
) -> None:
    assert mapped(equipment=equipment)["equipment"] == expected


@pytest.mark.parametrize(
    ("level", "difficulty"),
    [("beginner", "beginner"), ("intermediate", "intermediate"), ("expert", "advanced")],
)
def test_levels_become_catalogue_difficulties(level: str, difficulty: str) -> None:
    assert mapped(level=level)["difficulty"] == difficulty


def test_body_regions_come_from_primary_muscles_only() -> None:
    values = mapped(primaryMuscles=["calves", "neck"], secondaryMuscles=["chest", "biceps"])

    assert values["body_regions"] == ["ankle_foot", "neck"]
    assert values["muscles"] == ["calves", "neck", "chest", "biceps"]


def test_a_record_without_primary_muscles_counts_as_full_body() -> None:
    assert mapped(primaryMuscles=[], secondaryMuscles=["chest"])["body_regions"] == ["full_body"]


def test_a_record_without_images_has_no_thumbnail() -> None:
    assert mapped(images=[])["thumbnail"] is None


def test_instructions_keep_their_order_and_drop_blank_steps() -> None:
    values = mapped(instructions=["  First.  ", "", "Second.", "   ", "Third."])

    assert values["instructions"] == ["First.", "Second.", "Third."]


def test_repeated_primary_muscles_keep_the_summary_within_its_column(
    database: Database, tmp_path: Path
) -> None:
    # The summary column holds 500 characters (PostgreSQL enforces it).
    record = fedb_record("Rows", primaryMuscles=["middle back"] * 60, equipment="e-z curl bar")
    assert len(mapped(primaryMuscles=["middle back"] * 60)["summary"]) <= 500

    import_file(database, write_library(tmp_path, [record]))

    summary = exercises_by_slug(database)["fedb-rows"].summary
    assert summary.count("middle back") == 1
    assert len(summary) <= 500


@pytest.mark.parametrize("record_id", ["___", "-_-", "Lift_" + "a" * 99 + "_b" + "c" * 40])
def test_imported_slugs_are_well_formed_whatever_the_id(
    database: Database, tmp_path: Path, record_id: str
) -> None:
    import_file(database, write_library(tmp_path, [fedb_record(record_id, name="Odd One")]))

    [slug] = exercises_by_slug(database)
    assert slug.startswith("fedb")
    assert len(slug) <= 120
    assert re.fullmatch(SLUG_PATTERN, slug), slug


def test_ids_that_slugify_alike_get_distinct_slugs(database: Database, tmp_path: Path) -> None:
    report = import_file(
        database, write_library(tmp_path, [fedb_record("Push_Up"), fedb_record("Push-Up")])
    )

    assert report.created == 2
    rows = exercises_by_slug(database)
    assert {row.external_id: slug for slug, row in rows.items()} == {
        "Push_Up": "fedb-push-up",
        "Push-Up": "fedb-push-up-2",
    }


# ---------------------------------------------------------------------------
# Idempotence by external id


def test_reimporting_the_same_file_creates_nothing(database: Database, tmp_path: Path) -> None:
    path = write_library(
        tmp_path, [fedb_record("Plank"), fedb_record("Bridge"), fedb_record("Dip")]
    )
    import_file(database, path)
    version = content_version(database)
    first = exercises_by_slug(database)

    report = import_file(database, path)

    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert report.summary() == (
        "Imported from free-exercise-db: 0 created, 0 updated, 3 unchanged, 0 skipped as invalid."
    )
    assert content_version(database) == version
    second = exercises_by_slug(database)
    assert {slug: (row.id, row.updated_at) for slug, row in second.items()} == {
        slug: (row.id, row.updated_at) for slug, row in first.items()
    }


def test_renaming_a_record_updates_its_exercise_in_place(
    database: Database, tmp_path: Path
) -> None:
    import_file(database, write_library(tmp_path, [fedb_record("Plank"), fedb_record("Bridge")]))
    before = exercises_by_slug(database)["fedb-plank"]
    version = content_version(database)

    report = import_file(
        database,
        write_library(tmp_path, [fedb_record("Plank", name="Front Plank"), fedb_record("Bridge")]),
    )

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    rows = exercises_by_slug(database)
    assert set(rows) == {"fedb-plank", "fedb-bridge"}
    after = rows["fedb-plank"]
    assert after.id == before.id
    assert after.name == "Front Plank"
    assert content_version(database) == version + 1


# ---------------------------------------------------------------------------
# Rejections: each reported by record id with the reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (without(fedb_record("No_Level"), "level"), "level: Field required"),
        (without(fedb_record("No_Images"), "images"), "images: Field required"),
        (fedb_record("bad id!"), "id: String should match pattern"),
        (fedb_record("Bad_Level", level="master"), "level: Input should be 'beginner'"),
        (fedb_record("Bad_Gear", equipment="trampoline"), "equipment: Input should be"),
        (fedb_record("Bad_Muscle", primaryMuscles=["spleen"]), "primaryMuscles.0: Input should"),
        (fedb_record("Bad_Muscle2", secondaryMuscles=["spleen"]), "secondaryMuscles.0: Input"),
        (fedb_record("Bad_Steps", instructions="Just do it."), "instructions: Input should be"),
        (fedb_record("Bad_Step", instructions=["Fine.", 3]), "instructions.1: Input should be"),
        (fedb_record("Bool_Name", name=True), "name: Input should be a valid string"),
        (fedb_record("Bool_Force", force=True), "force: Input should be"),
        (fedb_record("Blank_Name", name="   "), "name: String should have at least 1"),
    ],
)
def test_each_invalid_record_is_reported_by_id_with_its_reason(
    record: dict[str, Any], reason: str
) -> None:
    problems = rejection_of(record)

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"record 1 (id '{record['id']}'): ")
    assert reason in problems[0]


def test_a_record_that_is_not_an_object_is_reported_by_position() -> None:
    assert rejection_of(42) == [
        "record 1: Input should be a valid dictionary or instance of FreeExerciseRecord"
    ]


def test_a_duplicate_id_is_rejected_and_the_first_record_kept() -> None:
    raw = json.dumps([fedb_record("Plank"), fedb_record("Plank", name="Other Plank")]).encode()

    records, problems = parse_records(raw)

    assert [r.name for r in records] == ["Plank"]
    assert problems == ["record 1 (id 'Plank'): the id appears more than once in the file"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'[{"id": "Plank",', "the file is not valid JSON"),
        (b"\xff\xfe\xfa not text", "the file is not valid JSON"),
        (b'{"id": "Plank"}', "the file must hold a JSON array of exercise records"),
        (b'"exercises"', "the file must hold a JSON array of exercise records"),
    ],
)
def test_a_file_that_is_not_a_json_array_is_rejected_whole(
    database: Database, tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "library.json"
    path.write_bytes(content)

    with pytest.raises(LibraryImportError) as caught:
        import_file(database, path)

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(problem)
    assert exercise_count(database) == 0


def test_a_file_with_any_invalid_record_writes_nothing(database: Database, tmp_path: Path) -> None:
    import_file(database, write_library(tmp_path, [fedb_record("Plank")], name="first.json"))
    version = content_version(database)
    count = exercise_count(database)
    path = write_library(
        tmp_path,
        [
            fedb_record("Plank", name="Renamed Plank"),
            fedb_record("Bridge"),
            fedb_record("Bad_Level", level="master"),
            without(fedb_record("No_Name"), "name"),
            fedb_record("Bad_Gear", equipment="trampoline"),
            fedb_record("Bridge"),
        ],
    )

    # Refusing is the default: no flag is needed for an all-or-nothing import.
    with pytest.raises(LibraryImportError) as caught, database.write_session() as session:
        import_free_exercise_db(session, path)

    problems = caught.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("record 2 (id 'Bad_Level'): level:")
    assert problems[1].startswith("record 3 (id 'No_Name'): name:")
    assert problems[2].startswith("record 4 (id 'Bad_Gear'): equipment:")
    assert problems[3] == "record 5 (id 'Bridge'): the id appears more than once in the file"
    assert exercise_count(database) == count
    assert content_version(database) == version
    assert exercises_by_slug(database)["fedb-plank"].name == "Plank"


def test_skip_invalid_imports_the_valid_records_and_reports_the_rest(
    database: Database, tmp_path: Path
) -> None:
    path = write_library(
        tmp_path,
        [
            fedb_record("Plank"),
            fedb_record("Bad_Level", level="master"),
            fedb_record("Bridge"),
            fedb_record("Bool_Name", name=False),
        ],
    )

    report = import_file(database, path, skip_invalid=True)

    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert len(report.rejected) == 2
    assert report.rejected[0].startswith("record 1 (id 'Bad_Level'): level:")
    assert report.rejected[1].startswith("record 3 (id 'Bool_Name'): name:")
    assert report.summary().endswith("2 created, 0 updated, 0 unchanged, 2 skipped as invalid.")
    assert set(exercises_by_slug(database)) == {"fedb-plank", "fedb-bridge"}


def test_skip_invalid_still_refuses_a_file_that_is_not_an_array(
    database: Database, tmp_path: Path
) -> None:
    path = write_library(tmp_path, {"exercises": [fedb_record("Plank")]})

    with pytest.raises(LibraryImportError):
        import_file(database, path, skip_invalid=True)

    assert exercise_count(database) == 0


# ---------------------------------------------------------------------------
# Imported exercises never overwrite authored content


def test_an_imported_exercise_never_takes_an_authored_slug(
    database: Database, tmp_path: Path
) -> None:
    bundle = ContentBundle.model_validate(
        {"exercises": [exercise("squat"), exercise("fedb-lunge", name="Authored Lunge")]}
    )
    with database.write_session() as session:
        apply_content(session, bundle)
    authored_before = exercises_by_slug(database)

    report = import_file(
        database,
        write_library(
            tmp_path, [fedb_record("Squat", name="Imported Squat"), fedb_record("Lunge")]
        ),
    )

    assert report.created == 2
    rows = exercises_by_slug(database)
    assert set(rows) == {"squat", "fedb-lunge", "fedb-squat", "fedb-lunge-2"}
    assert rows["fedb-squat"].external_id == "Squat"
    assert rows["fedb-lunge-2"].external_id == "Lunge"
    for slug in ("squat", "fedb-lunge"):
        authored = rows[slug]
        assert authored_fields(authored) == authored_fields(authored_before[slug])
        assert (authored.source, authored.external_id) == (None, None)
    assert rows["fedb-lunge"].name == "Authored Lunge"


def test_reimporting_next_to_authored_content_keeps_the_assigned_slug(
    database: Database, tmp_path: Path
) -> None:
    with database.write_session() as session:
        apply_content(
            session, ContentBundle.model_validate({"exercises": [exercise("fedb-lunge")]})
        )
    path = write_library(tmp_path, [fedb_record("Lunge")])
    import_file(database, path)

    report = import_file(database, write_library(tmp_path, [fedb_record("Lunge", name="Lunge 2")]))

    assert (report.created, report.updated) == (0, 1)
    rows = exercises_by_slug(database)
    assert set(rows) == {"fedb-lunge", "fedb-lunge-2"}
    assert rows["fedb-lunge-2"].name == "Lunge 2"
    assert rows["fedb-lunge"].source is None


def test_authored_content_cannot_replace_an_imported_exercise(
    database: Database, tmp_path: Path
) -> None:
    import_file(database, write_library(tmp_path, [fedb_record("Lunge")]))
    bundle = ContentBundle.model_validate({"exercises": [exercise("fedb-lunge")]})

    with pytest.raises(ContentError) as caught, database.write_session() as session:
        apply_content(session, bundle)

    assert caught.value.problems == [
        "exercise 'fedb-lunge' is an imported exercise; authored content cannot replace it"
    ]
    assert exercises_by_slug(database)["fedb-lunge"].source == SOURCE


# ---------------------------------------------------------------------------
# The real library


def test_the_real_free_exercise_db_library_imports_whole(database: Database) -> None:
    if not REAL_LIBRARY.is_file():
        pytest.skip(f"{REAL_LIBRARY} is not present")

    report = import_file(database, REAL_LIBRARY)

    assert report.rejected == []
    assert (report.created, report.updated, report.unchanged) == (873, 0, 0)
    assert exercise_count(database) == 873
    rows = exercises_by_slug(database)
    assert all(re.fullmatch(SLUG_PATTERN, slug) for slug in rows)
    assert len({row.external_id for row in rows.values()}) == 873


# ---------------------------------------------------------------------------
# Through the HTTP API


def test_an_imported_exercise_is_served_locked_to_anonymous_viewers(
    client: TestClient, database: Database, tmp_path: Path
) -> None:
    import_file(
        database,
        write_library(
            tmp_path,
            [
                fedb_record("Good_Morning", primaryMuscles=["hamstrings"], equipment="barbell"),
                fedb_record("Plank"),
            ],
        ),
    )

    listing = client.get("/v1/exercises", params={"muscle": "hamstrings"})

    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["slug"] == "fedb-good-morning"
    assert item["access"] == "locked"
    assert item["equipment"] == ["barbell"]
    assert item["thumbnail_url"] is None
    for key in PREMIUM_KEYS:
        assert key not in item

    detail = client.get("/v1/exercises/fedb-good-morning")

    assert detail.status_code == 200
    exercise_body = detail.json()
    assert exercise_body["access"] == "locked"
    assert exercise_body["name"] == "Good Morning"
    assert exercise_body["muscles"] == ["hamstrings"]
    assert "lock" in exercise_body
    for key in PREMIUM_KEYS:
        assert key not in exercise_body
