"""Removing content: refused while people or other content rely on it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, SQLModel, col, select

from app.authoring.content import bump_content_version
from app.authoring.report import ContentConflictError
from app.authoring.validation import describe_enrollments, enrollments_in
from app.catalog.models import (
    Condition,
    ConditionRelation,
    Exercise,
    Program,
    ProgramCondition,
    Stage,
    StageExercise,
)
from app.progress.models import ExerciseRating, SessionEntry, SessionLog


def _count(session: Session, model: type[SQLModel], *conditions: Any) -> int:
    return session.exec(select(func.count()).select_from(model).where(*conditions)).one()


def remove_exercise(session: Session, exercise: Exercise) -> None:
    """Delete an exercise no program places and no one has logged; bump the version."""
    placed = session.exec(
        select(Program.slug, Stage.position)
        .join(Stage, col(Stage.program_id) == Program.id)
        .join(StageExercise, col(StageExercise.stage_id) == Stage.id)
        .where(StageExercise.exercise_id == exercise.id)
        .order_by(col(Program.slug), col(Stage.position))
    ).all()
    problems = [
        f"exercise '{exercise.slug}' is placed in program '{slug}' stage {position}"
        for slug, position in placed
    ]
    logged = _count(session, SessionEntry, col(SessionEntry.exercise_id) == exercise.id)
    logged += _count(session, ExerciseRating, col(ExerciseRating.exercise_id) == exercise.id)
    if logged:
        problems.append(
            f"exercise '{exercise.slug}' is in people's logged sessions; "
            "set it to draft to retire it and keep their history"
        )
    if problems:
        raise ContentConflictError(problems, programs=sorted({slug for slug, _ in placed}))
    session.execute(delete(Exercise).where(col(Exercise.id) == exercise.id))
    bump_content_version(session)


def remove_condition(session: Session, condition: Condition) -> None:
    """Delete a condition no program belongs to and no condition points at; bump the version."""
    programs = session.exec(
        select(Program.slug)
        .join(ProgramCondition, col(ProgramCondition.program_id) == Program.id)
        .where(ProgramCondition.condition_id == condition.id)
        .order_by(col(Program.slug))
    ).all()
    pointing = session.exec(
        select(Condition.slug)
        .join(ConditionRelation, col(ConditionRelation.condition_id) == Condition.id)
        .where(ConditionRelation.related_id == condition.id)
        .order_by(col(Condition.slug))
    ).all()
    problems = [f"program '{slug}' belongs to condition '{condition.slug}'" for slug in programs]
    problems += [f"condition '{slug}' lists '{condition.slug}' as related" for slug in pointing]
    if problems:
        raise ContentConflictError(problems, programs=list(programs), conditions=list(pointing))
    session.execute(delete(Condition).where(col(Condition.id) == condition.id))
    bump_content_version(session)


def remove_program(session: Session, program: Program) -> None:
    """Delete a program no one follows or has logged sessions in; bump the version.

    A program with history is retired by setting it to draft once no one
    follows it: deleting it would take that history with it.
    """
    enrolled = enrollments_in(session, [program.slug]).get(program.slug, [])
    problems = (
        [f"program '{program.slug}' is followed by {describe_enrollments(enrolled)}"]
        if enrolled
        else []
    )
    if _count(session, SessionLog, col(SessionLog.program_id) == program.id):
        problems.append(
            f"program '{program.slug}' has logged sessions; "
            "set it to draft to retire it and keep their history"
        )
    if problems:
        raise ContentConflictError(problems, enrollments=enrolled)
    session.execute(delete(Program).where(col(Program.id) == program.id))
    bump_content_version(session)
