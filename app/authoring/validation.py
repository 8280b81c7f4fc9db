"""The rules content keeps: checked before anything is written, for every writer.

`rehab seed`, `rehab import`, the admin API and clinics' own programs all go
through `app.authoring.content.apply_content`, which asks these first, so they
share every rule.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from app.authoring.report import ContentConflictError
from app.catalog.models import Condition, ContentStatus, Exercise, Program
from app.catalog.schemas import ConditionIn, ContentBundle, ExerciseIn, ProgramIn
from app.progress.models import Enrollment


def check_integrity(bundle: ContentBundle) -> list[str]:
    """Rules each item keeps on its own (what the input models cannot see alone)."""
    return [
        f"program '{program.slug}': a published program needs at least one stage"
        for program in bundle.programs
        if program.status == ContentStatus.PUBLISHED and not program.stages
    ]


def check_references(session: Session, bundle: ContentBundle) -> list[str]:
    """Every slug a bundle points at must exist in the bundle or the database."""
    condition_slugs = {c.slug for c in bundle.conditions} | _existing_slugs(session, Condition)
    exercise_slugs = {e.slug for e in bundle.exercises} | _existing_slugs(session, Exercise)
    problems = [
        f"condition '{c.slug}': related condition '{slug}' does not exist"
        for c in bundle.conditions
        for slug in c.related
        if slug not in condition_slugs
    ]
    for program in bundle.programs:
        problems += [
            f"program '{program.slug}': condition '{slug}' does not exist"
            for slug in program.conditions
            if slug not in condition_slugs
        ]
        problems += [
            f"program '{program.slug}' stage {stage.position}: "
            f"exercise '{item.exercise}' does not exist"
            for stage in program.stages
            for item in stage.exercises
            if item.exercise not in exercise_slugs
        ]
    problems += [
        f"exercise '{slug}' is an imported exercise; authored content cannot replace it"
        for slug in session.exec(
            select(Exercise.slug).where(
                col(Exercise.slug).in_([e.slug for e in bundle.exercises]),
                col(Exercise.source).is_not(None),
            )
        )
    ]
    for kind, items in (
        ("condition", bundle.conditions),
        ("exercise", bundle.exercises),
        ("program", bundle.programs),
    ):
        problems += [f"{kind} '{slug}' is defined more than once" for slug in _dupes(items)]
    return problems


def enrollments_in(
    session: Session, program_slugs: Sequence[str], *, from_stage: int = 1
) -> dict[str, list[dict[str, Any]]]:
    """Who follows each program at `from_stage` or beyond, in the shape conflicts name them."""
    if not program_slugs:
        return {}
    rows = session.exec(
        select(Program.slug, Enrollment)
        .join(Enrollment, col(Enrollment.program_id) == Program.id)
        .where(col(Program.slug).in_(program_slugs), Enrollment.current_stage >= from_stage)
        .order_by(col(Enrollment.id))
    ).all()
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for slug, row in rows:
        found[slug].append(
            {"id": row.id, "user_id": row.user_id, "program": slug, "stage": row.current_stage}
        )
    return found


def check_enrollments_kept(session: Session, programs: Sequence[ProgramIn]) -> None:
    """People following a program keep it, and keep the stage they are at.

    Unpublishing would take the program away from them, and fewer stages than
    someone's current one would leave them at a stage that no longer exists:
    both are refused, naming the enrollments in the way.
    """
    enrolled = enrollments_in(session, [program.slug for program in programs])
    problems: list[str] = []
    in_the_way: list[dict[str, Any]] = []
    for program in programs:
        people = enrolled.get(program.slug, [])
        if program.status == ContentStatus.DRAFT:
            reason = "cannot become a draft while people follow it"
        else:
            last = len(program.stages)
            people = [item for item in people if item["stage"] > last]
            reason = f"cannot end at stage {last}: people are at a later stage"
        if people:
            problems.append(f"program '{program.slug}' {reason} ({describe_enrollments(people)})")
            in_the_way += people
    if problems:
        raise ContentConflictError(problems, enrollments=in_the_way)


def describe_enrollments(enrolled: list[dict[str, Any]]) -> str:
    ids = ", ".join(str(item["id"]) for item in enrolled)
    return f"{len(enrolled)} enrollment(s): {ids}"


def ownership_problems(session: Session, bundle: ContentBundle, clinic_id: int | None) -> list[str]:
    """A program is written only by its owner: the catalogue's editors or one clinic."""
    slugs = [program.slug for program in bundle.programs]
    owners = session.exec(
        select(Program.slug, Program.clinic_id).where(col(Program.slug).in_(slugs))
    ).all()
    problems = [
        f"program '{slug}': the slug is already taken"
        for slug, owner in owners
        if owner != clinic_id
    ]
    if clinic_id is None:
        problems += [
            f"program '{program.slug}': a catalogue program belongs to at least one condition"
            for program in bundle.programs
            if not program.conditions
        ]
        problems += [
            f"program '{program.slug}': slugs starting 'clinic-<number>-' are kept for "
            "clinics' own programs"
            for program in bundle.programs
            if CLINIC_PROGRAM_SLUG.match(program.slug)
        ]
    return problems


# How clinics' own programs are stored (`clinic-12-knee-plan`): kept out of the
# catalogue, so a clinic never finds its chosen name taken by a public program.
CLINIC_PROGRAM_SLUG = re.compile(r"clinic-[0-9]+-")

ModelT = TypeVar("ModelT", Condition, Exercise, Program)


def _existing_slugs(session: Session, model: type[ModelT]) -> set[str]:
    return set(session.exec(select(model.slug)).all())


def _dupes(items: Sequence[ConditionIn | ExerciseIn | ProgramIn]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for item in items:
        if item.slug in seen and item.slug not in dupes:
            dupes.append(item.slug)
        seen.add(item.slug)
    return dupes
