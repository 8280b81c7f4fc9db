"""What goes on a person's printed program, decided by the one lock policy (no FastAPI).

A handout is the person's own view of one program they follow: every stage in
order, and each stage's exercises rendered by the presenter for the person's
viewer (`access.policy.decide`), exactly as their app receives them. A stage
they have not reached comes back locked, a teaser with no instructions, cues,
mistakes or precautions at all, so the paper cannot show what the app hides.
The same holds when a clinic prints it for a linked patient: the lock is the
patient's, and the program must be one the clinic may see (its `ProgramScope`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlmodel import Session, col, select

from app.access.policy import Role, Viewer
from app.access.presenter import ExercisePresenter
from app.catalog.dosage import dosage_text
from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.clinics.models import Clinic, PatientLink
from app.core.errors import NotFoundError
from app.core.media import MediaSigner
from app.identity.models import User
from app.progress import evaluation
from app.progress.enrollments import get_enrollment, list_enrollments
from app.progress.models import Enrollment
from app.progress.scope import ProgramScope


@dataclass(frozen=True, slots=True)
class HandoutExercise:
    name: str
    summary: str
    thumbnail_key: str | None
    dosage: str
    locked: bool
    steps: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()
    mistakes: tuple[str, ...] = ()
    precautions: tuple[str, ...] = ()
    lock_message: str = ""


@dataclass(frozen=True, slots=True)
class HandoutStage:
    position: int
    name: str
    guidance: str
    state: str  # "done", "current" or "locked"
    exercises: tuple[HandoutExercise, ...]
    unlock_hint: str = ""


@dataclass(frozen=True, slots=True)
class Handout:
    clinic_name: str | None
    patient_name: str
    program_name: str
    program_slug: str
    current_stage: int
    completed: bool
    stages: tuple[HandoutStage, ...]
    printed_at: datetime

    @property
    def current(self) -> HandoutStage | None:
        return next((s for s in self.stages if s.state == "current"), None)


def for_person(
    session: Session,
    *,
    user: User,
    program: ProgramEntry,
    snapshot: CatalogSnapshot,
    media: MediaSigner,
    now: datetime,
) -> Handout:
    """The signed-in person's handout of a program they follow (404 if they do not)."""
    assert user.id is not None
    enrollment = get_enrollment(session, user_id=user.id, program=program)
    return _handout(
        session,
        user=user,
        enrollment=enrollment,
        program=program,
        snapshot=snapshot,
        media=media,
        now=now,
        clinic_name=_clinic_of(session, enrollment, program),
    )


def for_patient(
    session: Session,
    *,
    patient: User,
    clinic_id: int,
    slug: str,
    snapshot: CatalogSnapshot,
    media: MediaSigner,
    now: datetime,
) -> Handout:
    """A linked patient's handout, printed by their clinic: only a program it may see."""
    assert patient.id is not None
    scope = ProgramScope.of_clinic(clinic_id)
    for enrollment in list_enrollments(session, patient.id, scope=scope):
        program = snapshot.program_by_id.get(enrollment.program_id)
        if program is not None and program.slug == slug:
            clinic = session.get(Clinic, clinic_id)
            return _handout(
                session,
                user=patient,
                enrollment=enrollment,
                program=program,
                snapshot=snapshot,
                media=media,
                now=now,
                clinic_name=clinic.name if clinic else None,
            )
    raise NotFoundError(f"The patient does not follow a program '{slug}' this clinic can see.")


def _clinic_of(session: Session, enrollment: Enrollment, program: ProgramEntry) -> str | None:
    """The clinic behind the program, named only while the person is linked to it."""
    clinic_id = enrollment.assigned_clinic_id or program.clinic_id
    if clinic_id is None:
        return None
    return session.exec(
        select(Clinic.name)
        .join(PatientLink, col(PatientLink.clinic_id) == Clinic.id)
        .where(
            Clinic.id == clinic_id,
            PatientLink.patient_id == enrollment.user_id,
            col(PatientLink.revoked_at).is_(None),
        )
    ).first()


def _handout(
    session: Session,
    *,
    user: User,
    enrollment: Enrollment,
    program: ProgramEntry,
    snapshot: CatalogSnapshot,
    media: MediaSigner,
    now: datetime,
    clinic_name: str | None,
) -> Handout:
    assert user.id is not None
    state = evaluation.enrollment_state(session, user_id=user.id, program=program, now=now)
    reached = enrollment.current_stage
    hints = {}
    if state.evaluation is not None:
        hints[program.id] = f"To reach stage {reached + 1}: {state.evaluation.hint()}."
    # The person as the lock sees them in this program (their role, the stage they reached).
    viewer = Viewer(
        user_id=user.id,
        role=Role(user.role),
        current_stages={program.id: reached},
        stage_hints=hints,
    )
    presenter = ExercisePresenter(viewer, media)
    completed = enrollment.completed_at is not None
    stages = []
    for stage in program.stages:
        items: list[dict[str, Any]] = orjson.loads(
            orjson.dumps(presenter.stage_items(snapshot, stage))
        )
        exercises = tuple(_exercise(item, snapshot) for item in items)
        if stage.position < reached or (completed and stage.position == reached):
            where = "done"
        elif stage.position == reached:
            where = "current"
        else:
            where = "locked" if any(e.locked for e in exercises) else "ahead"
        hint = next((e.lock_message for e in exercises if e.locked), "")
        if where == "locked" and stage.position > reached + 1:
            hint = f"It opens once you finish stage {stage.position - 1}."
        stages.append(
            HandoutStage(stage.position, stage.name, stage.guidance, where, exercises, hint)
        )
    return Handout(
        clinic_name=clinic_name,
        patient_name=user.display_name,
        program_name=program.name,
        program_slug=program.slug,
        current_stage=reached,
        completed=completed,
        stages=tuple(stages),
        printed_at=now,
    )


def _exercise(item: dict[str, Any], snapshot: CatalogSnapshot) -> HandoutExercise:
    shown = item["exercise"]
    entry = snapshot.exercise_by_slug.get(shown["slug"])
    common = {
        "name": shown["name"],
        "summary": shown["summary"],
        "thumbnail_key": entry.thumbnail_key if entry else None,
        "dosage": dosage_text(item["dosage"]),
    }
    if shown["access"] == "locked":
        lock = shown["lock"]
        return HandoutExercise(**common, locked=True, lock_message=lock["unlock_hint"])
    return HandoutExercise(
        **common,
        locked=False,
        steps=tuple(shown.get("instructions", ())),
        cues=tuple(shown.get("cues", ())),
        mistakes=tuple(shown.get("mistakes", ())),
        precautions=tuple(shown.get("precautions", ())),
    )
