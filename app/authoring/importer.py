"""Importing an external exercise library (the free-exercise-db format).

The whole file is validated before anything is written: every bad record is
reported by its id with the reason. Imported exercises sit outside any
program, keyed by (source, external id), so importing again updates them in
place instead of adding copies.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from sqlmodel import Session, select

from app.authoring.content import assign_changes, bump_content_version
from app.catalog.models import BodyRegion, ContentStatus, Difficulty, Exercise
from app.core.models import utcnow
from app.core.schemas import slugify

SOURCE = "free-exercise-db"
# Imported slugs carry the source's prefix so they never take a slug authored content needs.
SLUG_PREFIX = "fedb-"

Muscle = Literal[
    "abdominals", "abductors", "adductors", "biceps", "calves", "chest", "forearms", "glutes",
    "hamstrings", "lats", "lower back", "middle back", "neck", "quadriceps", "shoulders",
    "traps", "triceps",
]  # fmt: skip
Equipment = Literal[
    "medicine ball", "dumbbell", "body only", "bands", "kettlebells", "foam roll", "cable",
    "machine", "barbell", "exercise ball", "e-z curl bar", "other",
]  # fmt: skip

REGION_OF_MUSCLE: dict[str, BodyRegion] = {
    "abdominals": BodyRegion.CORE,
    "abductors": BodyRegion.HIP,
    "adductors": BodyRegion.HIP,
    "glutes": BodyRegion.HIP,
    "biceps": BodyRegion.ARM,
    "triceps": BodyRegion.ARM,
    "forearms": BodyRegion.ARM,
    "calves": BodyRegion.ANKLE_FOOT,
    "chest": BodyRegion.CHEST,
    "hamstrings": BodyRegion.THIGH,
    "quadriceps": BodyRegion.THIGH,
    "lats": BodyRegion.UPPER_BACK,
    "middle back": BodyRegion.UPPER_BACK,
    "traps": BodyRegion.UPPER_BACK,
    "lower back": BodyRegion.LOWER_BACK,
    "neck": BodyRegion.NECK,
    "shoulders": BodyRegion.SHOULDER,
}
EQUIPMENT_NAME: dict[str, str] = {
    "body only": "bodyweight",
    "bands": "resistance band",
    "kettlebells": "kettlebell",
    "foam roll": "foam roller",
}
DIFFICULTY_OF_LEVEL = {
    "beginner": Difficulty.BEGINNER,
    "intermediate": Difficulty.INTERMEDIATE,
    "expert": Difficulty.ADVANCED,
}
MAX_RECORDS = 100_000
# A media key the media route serves (see `catalog.routers.media.MEDIA_KEY_PATTERN`).
SAFE_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Step = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000)]


class FreeExerciseRecord(BaseModel):
    """One record of the free-exercise-db format, as its JSON Schema describes it."""

    model_config = ConfigDict(extra="ignore", strict=True)

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-zA-Z_-]+$", max_length=150)]
    name: Text
    force: Literal["static", "pull", "push"] | None = None
    level: Literal["beginner", "intermediate", "expert"]
    mechanic: Literal["isolation", "compound"] | None
    equipment: Equipment | None
    primaryMuscles: list[Muscle]  # noqa: N815 (the format's own field name)
    secondaryMuscles: list[Muscle]  # noqa: N815
    instructions: list[Step]
    category: Literal[
        "powerlifting", "strength", "stretching", "cardio", "olympic weightlifting",
        "strongman", "plyometrics",
    ]  # fmt: skip
    images: list[Annotated[str, StringConstraints(max_length=250)]]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"Imported from {SOURCE}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.rejected)} skipped as invalid."
        )


@dataclass(frozen=True, slots=True)
class ImageFolder:
    """The library's image folder, and the media folder its thumbnails are copied into.

    A thumbnail link is only useful when the media route can serve it: an
    exercise gets one only when its image is in the folder, never a dead link.
    """

    source: Path
    media_dir: Path

    def thumbnail(self, image: str) -> str | None:
        """The media key of `image` once copied into the media folder, or None when absent."""
        if not SAFE_IMAGE.match(image):
            return None
        found = self.source / image
        if not found.is_file():
            return None
        key = f"{SOURCE}/{image}"
        target = self.media_dir / key
        if not target.is_file() or target.stat().st_size != found.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, target)
        return key


class LibraryImportError(Exception):
    """The file or some of its records are invalid; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:5]))
        self.problems = problems


def parse_records(raw: bytes) -> tuple[list[FreeExerciseRecord], list[str]]:
    """Validate every record; return the good ones and one line per bad one."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryImportError([f"the file is not valid JSON: {exc}"]) from exc
    if not isinstance(data, list):
        raise LibraryImportError(["the file must hold a JSON array of exercise records"])
    if len(data) > MAX_RECORDS:
        raise LibraryImportError(
            [f"the file holds {len(data)} records; the limit is {MAX_RECORDS}"]
        )
    records: list[FreeExerciseRecord] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        label = _label(index, item)
        try:
            record = FreeExerciseRecord.model_validate(item)
        except ValidationError as exc:
            problems += [f"{label}: {_reason(err)}" for err in exc.errors()]
            continue
        if record.id in seen:
            problems.append(f"{label}: the id appears more than once in the file")
            continue
        seen.add(record.id)
        records.append(record)
    return records, problems


def _label(index: int, item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return f"record {index} (id '{item['id'][:150]}')"
    return f"record {index}"


def _reason(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def to_exercise_values(
    record: FreeExerciseRecord, images: ImageFolder | None = None
) -> dict[str, Any]:
    """Map one record to catalogue fields (everything except the slug).

    Without the library's image folder an exercise has no thumbnail.
    """
    muscles = list(dict.fromkeys([*record.primaryMuscles, *record.secondaryMuscles]))
    regions = list(dict.fromkeys(REGION_OF_MUSCLE[m].value for m in record.primaryMuscles))
    equipment = [EQUIPMENT_NAME.get(record.equipment, record.equipment)] if record.equipment else []
    return {
        "name": record.name,
        "summary": _summary(record),
        "thumbnail": images.thumbnail(record.images[0]) if images and record.images else None,
        "video": None,
        "body_regions": regions or [BodyRegion.FULL_BODY.value],
        "muscles": muscles,
        "equipment": equipment,
        "difficulty": DIFFICULTY_OF_LEVEL[record.level].value,
        "instructions": [step for step in record.instructions if step],
        "cues": [],
        "mistakes": [],
        "precautions": [],
        "status": ContentStatus.PUBLISHED.value,
    }


def _summary(record: FreeExerciseRecord) -> str:
    level = record.level.capitalize()
    # Deduplicated: a record may repeat a muscle, and the summary column holds 500 characters.
    target = ", ".join(dict.fromkeys(record.primaryMuscles)) or "the whole body"
    summary = f"{level} {record.category} exercise for the {target}"
    if record.equipment and record.equipment != "body only":
        summary += f", using {EQUIPMENT_NAME.get(record.equipment, record.equipment)}"
    return summary + "."


def import_free_exercise_db(
    session: Session,
    path: Path,
    *,
    skip_invalid: bool = False,
    images: ImageFolder | None = None,
) -> ImportReport:
    """Validate the whole file, then create or update its exercises."""
    records, problems = parse_records(path.read_bytes())
    if problems and not skip_invalid:
        raise LibraryImportError(problems)
    report = ImportReport(rejected=problems)
    existing = {
        row.external_id: row
        for row in session.exec(select(Exercise).where(Exercise.source == SOURCE))
    }
    taken = set(session.exec(select(Exercise.slug)).all())
    for record in records:
        values = to_exercise_values(record, images)
        row = existing.get(record.id)
        if row is None:
            slug = _free_slug(SLUG_PREFIX + slugify(record.id), taken)
            taken.add(slug)
            session.add(Exercise(slug=slug, source=SOURCE, external_id=record.id, **values))
            report.created += 1
        elif assign_changes(row, values):
            row.updated_at = utcnow()
            report.updated += 1
        else:
            report.unchanged += 1
    if report.created or report.updated:
        session.flush()
        bump_content_version(session)
    return report


def _free_slug(base: str, taken: set[str]) -> str:
    # Truncating, or an id with no letters or digits, must not leave a dangling hyphen.
    base = base[:110].strip("-")
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug
