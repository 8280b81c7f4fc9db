"""S6's catalogue: the same content ten times over, to show a request's cost does not grow with it.

The copies go in through the app's own write paths (`apply_content` for the
authored content, the free-exercise-db importer for the library), so the
catalogue is exactly what an editor or an operator could have produced.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import app.models  # noqa: F401  (every table, so foreign keys across packages resolve)
from app.authoring.content import apply_content
from app.authoring.importer import import_free_exercise_db
from app.authoring.seed import read_content_dir
from app.catalog.schemas import ConditionIn, ContentBundle, ExerciseIn, ProgramIn, StageIn
from app.core.config import Settings
from bench.config import LIBRARY_FILE, BenchConfig
from bench.database import open_database
from bench.library import copied_records, load_library, write_records


def grow_catalogue(config: BenchConfig) -> str:
    """Add copies 2..N of the seed content and of the library; say what was added."""
    copies = range(2, config.copies + 1)
    # The folder `rehab seed` read: SEED_DIR from the environment or .env, else ./seed.
    bundle = copied_bundle(read_content_dir(Settings().seed_dir), copies)
    records = load_library(LIBRARY_FILE, config.library_size)
    with tempfile.TemporaryDirectory(prefix="rehab-bench-") as folder:
        library = write_records(copied_records(records, copies), Path(folder) / "copies.json")
        with open_database(config) as database, database.write_session() as session:
            content = apply_content(session, bundle)
            imported = import_free_exercise_db(session, library, skip_invalid=True)
    return f"{content.summary()}; {imported.summary()}"


def copied_bundle(bundle: ContentBundle, copies: range) -> ContentBundle:
    """Each condition, exercise and program again as `<slug>-copy-N`, linked to its own copies."""
    return ContentBundle.model_construct(
        conditions=[_condition(c, n) for n in copies for c in bundle.conditions],
        exercises=[_exercise(e, n) for n in copies for e in bundle.exercises],
        programs=[_program(p, n) for n in copies for p in bundle.programs],
    )


def _slug(slug: str, n: int) -> str:
    return f"{slug}-copy-{n}"


def _name(name: str, n: int) -> str:
    return f"{name} (copy {n})"


def _exercise(item: ExerciseIn, n: int) -> ExerciseIn:
    return item.model_copy(update={"slug": _slug(item.slug, n), "name": _name(item.name, n)})


def _condition(item: ConditionIn, n: int) -> ConditionIn:
    return item.model_copy(
        update={
            "slug": _slug(item.slug, n),
            "name": _name(item.name, n),
            "related": [_slug(slug, n) for slug in item.related],
        }
    )


def _program(item: ProgramIn, n: int) -> ProgramIn:
    return item.model_copy(
        update={
            "slug": _slug(item.slug, n),
            "name": _name(item.name, n),
            "conditions": [_slug(slug, n) for slug in item.conditions],
            "stages": [_stage(stage, n) for stage in item.stages],
        }
    )


def _stage(stage: StageIn, n: int) -> StageIn:
    exercises = [
        dosage.model_copy(update={"exercise": _slug(dosage.exercise, n)})
        for dosage in stage.exercises
    ]
    return stage.model_copy(update={"exercises": exercises})
