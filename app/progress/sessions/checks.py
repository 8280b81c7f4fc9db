"""What only the server can check about a session: its program, enrollment, stage and time.

The body's shape was checked by its schema; this checks it against the
catalogue snapshot and the person's enrollment, and resolves slugs to ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.core.errors import ConflictError, InvalidInputError
from app.progress.schemas import SessionIn

CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ResolvedEntry:
    exercise_id: int
    exercise_slug: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A session body checked against the catalogue and the person's enrollment."""

    program: ProgramEntry
    stage: int
    performed_at: datetime
    note: str | None
    entries: tuple[ResolvedEntry, ...]


def _invalid(pointer: str, detail: str) -> InvalidInputError:
    return InvalidInputError.for_field(pointer, detail)


class NotEnrolledError(ConflictError):
    """A well-formed session for a program the person does not follow: their state, not the body,
    is what refuses it (enrolling would make the same request succeed)."""

    type = "/problems/not-enrolled"


class StageNotReachedError(ConflictError):
    """A well-formed session for a stage the person has not reached yet."""

    type = "/problems/stage-not-reached"


def _conflict(cls: type[ConflictError], pointer: str, detail: str) -> ConflictError:
    return cls(detail, extra={"errors": [{"pointer": pointer, "detail": detail, "type": "state"}]})


def known_program(body: SessionIn, snapshot: CatalogSnapshot, now: datetime) -> ProgramEntry:
    """The session's program, checked before anything is asked of the database."""
    if body.performed_at > now + CLOCK_SKEW:
        raise _invalid("body.performed_at", "performed_at is in the future.")
    program = snapshot.any_program(body.program)
    if program is None:
        raise _invalid("body.program", f"No program with slug '{body.program}'.")
    return program


def resolve(
    program: ProgramEntry, *, reached: int | None, body: SessionIn, snapshot: CatalogSnapshot
) -> Resolved:
    """Check what only the server knows: the enrollment (`reached`: the stage the person has
    reached in `program`, None when not enrolled), the stage and the exercises."""
    if reached is None and program.clinic_id is not None:
        # A clinic's program is only there for the patients following it.
        raise _invalid("body.program", f"No program with slug '{body.program}'.")
    if reached is None:
        raise _conflict(
            NotEnrolledError, "body.program", f"You are not enrolled in '{program.slug}'."
        )
    if body.stage > min(reached, len(program.stages)):
        raise _conflict(
            StageNotReachedError,
            "body.stage",
            f"You have reached stage {reached}; stage {body.stage} is ahead.",
        )
    allowed = program.exercise_ids_up_to(body.stage)
    entries: list[ResolvedEntry] = []
    for index, entry in enumerate(body.entries):
        exercise = snapshot.exercise_by_slug.get(entry.exercise)
        if exercise is None or exercise.id not in allowed:
            raise _invalid(
                f"body.entries.{index}.exercise",
                f"'{entry.exercise}' is not an exercise of stage {body.stage} or earlier "
                f"of '{program.slug}'.",
            )
        entries.append(
            ResolvedEntry(
                exercise_id=exercise.id,
                exercise_slug=exercise.slug,
                values=entry.model_dump(exclude={"exercise"}),
            )
        )
    return Resolved(program, body.stage, body.performed_at, body.note, tuple(entries))
