"""Programs a clinic builds for its own patients from catalogue exercises.

No FastAPI here. Writes go through the catalogue's `apply_content` (the same
validation as `rehab seed` and the admin API) on behalf of the clinic, are
recorded in the audit trail, and bump the content version.

Slugs: a clinic names its programs as it likes (`knee-plan`); they are stored
as `clinic-{clinic_id}-{slug}`, so two clinics never collide and neither can
learn, by a refused slug, what the other has built. Patients see and use the
stored form (`/v1/me/enrollments/clinic-12-knee-plan`).

Editing a program patients follow changes it in place: guidance, dosage,
exercises, rules and appended stages apply from the next evaluation; each
patient keeps their stage, and their history keeps its stage positions. What
would strand someone is refused with 409 naming them: removing the stage a
patient is at (or any stage below it), or unpublishing the program while
anyone follows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.authoring.audit import record_audit
from app.authoring.content import apply_content, bump_content_version
from app.authoring.documents import stage_documents
from app.authoring.models import AuditAction
from app.care.schemas import ClinicProgramIn
from app.catalog.models import ContentStatus, Program, Stage
from app.catalog.schemas import ContentBundle, ProgramIn
from app.catalog.snapshot import CatalogSnapshot, ProgramEntry
from app.clinics.models import PatientLink
from app.clinics.service import ClinicActor
from app.core import http_cache
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.json import dumps
from app.core.schemas import slugify
from app.identity.models import User
from app.progress.models import Enrollment, SessionLog

KIND = "program"
LOCAL_SLUG_LIMIT = 80


def stored_slug(clinic_id: int, slug: str) -> str:
    return f"clinic-{clinic_id}-{slug}"


def local_slug(clinic_id: int, stored: str) -> str:
    return stored.removeprefix(f"clinic-{clinic_id}-")


# ---------------------------------------------------------------------------
# Reading


def _program_row(session: Session, clinic_id: int, slug: str) -> Program:
    row = session.exec(
        select(Program).where(
            Program.slug == stored_slug(clinic_id, slug), Program.clinic_id == clinic_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"No program with slug '{slug}' in this clinic.")
    return row


def _detail(session: Session, row: Program) -> dict[str, Any]:
    assert row.id is not None
    assert row.clinic_id is not None
    return {
        "slug": local_slug(row.clinic_id, row.slug),
        "program": row.slug,
        "name": row.name,
        "description": row.description,
        "status": str(row.status),
        "stages": stage_documents(session, row.id),
    }


@dataclass(frozen=True, slots=True)
class ClinicProgram:
    """A clinic program as its clinic reads it, with the validator `If-Match` must present."""

    body: dict[str, Any]

    @property
    def etag(self) -> str:
        # A strong validator of the content itself: any edit, by anyone, changes it.
        return '"' + hashlib.blake2b(dumps(self.body), digest_size=12).hexdigest() + '"'


def get_program(session: Session, *, clinic_id: int, slug: str) -> ClinicProgram:
    return ClinicProgram(_detail(session, _program_row(session, clinic_id, slug)))


def list_programs(
    session: Session, *, clinic_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the clinic's programs (drafts included): three statements per page."""
    total = session.exec(
        select(func.count()).select_from(Program).where(Program.clinic_id == clinic_id)
    ).one()
    rows = session.exec(
        select(Program)
        .where(Program.clinic_id == clinic_id)
        .order_by(col(Program.name), col(Program.id))
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [row.id for row in rows]
    stage_counts = dict(
        session.exec(
            select(Stage.program_id, func.count())
            .where(col(Stage.program_id).in_(ids))
            .group_by(col(Stage.program_id))
        ).all()
    )
    following = dict(
        session.exec(
            select(Enrollment.program_id, func.count())
            .where(col(Enrollment.program_id).in_(ids))
            .group_by(col(Enrollment.program_id))
        ).all()
    )
    return [
        {
            "slug": local_slug(clinic_id, row.slug),
            "program": row.slug,
            "name": row.name,
            "description": row.description,
            "status": str(row.status),
            "stage_count": stage_counts.get(row.id or 0, 0),
            "following": following.get(row.id or 0, 0),
        }
        for row in rows
    ], total


def assignable_program(snapshot: CatalogSnapshot, *, clinic_id: int, slug: str) -> ProgramEntry:
    """What a clinic may assign: its own published programs (by either slug) or public ones.

    Its own program wins over a public one of the same short slug; another
    clinic's program is not found.
    """
    own = snapshot.clinic_program_by_slug.get(
        stored_slug(clinic_id, slug)
    ) or snapshot.clinic_program_by_slug.get(slug)
    if own is not None and own.clinic_id == clinic_id:
        return own
    public = snapshot.program_by_slug.get(slug)
    if public is None:
        raise NotFoundError(f"No published program with slug '{slug}'.")
    return public


# ---------------------------------------------------------------------------
# Writing


def _audit_actor(actor: ClinicActor) -> User:
    """Who the trail names: the clinician, or the API client by its public id."""
    if actor.user is not None:
        return actor.user
    assert actor.client is not None
    # A stand-in never added to the session: the trail keeps only an id and a label.
    label = f"api-client:{actor.client.client_id}"
    return User(id=None, email=label, password_hash="", display_name=actor.client.name)


def _check_exercises(snapshot: CatalogSnapshot, body: ClinicProgramIn) -> None:
    """Clinics build from the published library only (drafts stay the editors' own)."""
    problems = [
        {
            "pointer": f"body.stages.{s}.exercises.{i}.exercise",
            "detail": f"No published exercise with slug '{item.exercise}'.",
            "type": "value_error",
        }
        for s, stage in enumerate(body.stages)
        for i, item in enumerate(stage.exercises)
        if item.exercise not in snapshot.exercise_by_slug
    ]
    if problems:
        raise InvalidInputError(problems[0]["detail"], extra={"errors": problems})


def _apply(session: Session, clinic_id: int, program: ProgramIn) -> None:
    apply_content(session, ContentBundle(programs=[program]), clinic_id=clinic_id)


def create_program(
    session: Session, *, actor: ClinicActor, body: ClinicProgramIn, snapshot: CatalogSnapshot
) -> ClinicProgram:
    _check_exercises(snapshot, body)
    slug = body.slug or slugify(body.name)[:LOCAL_SLUG_LIMIT].strip("-")
    if not slug:
        raise InvalidInputError.for_field("body.slug", "Give the program a slug.")
    stored = stored_slug(actor.clinic_id, slug)
    if session.exec(select(Program.id).where(Program.slug == stored)).first() is not None:
        raise ConflictError(f"This clinic already has a program with slug '{slug}'.")
    _apply(session, actor.clinic_id, body.as_program(stored))
    created = get_program(session, clinic_id=actor.clinic_id, slug=slug)
    record_audit(
        session,
        actor=_audit_actor(actor),
        action=AuditAction.CREATE,
        kind=KIND,
        slug=stored,
        before=None,
        after=created.body,
        clinic_id=actor.clinic_id,
    )
    return created


def check_if_match(if_match: str | None, current: ClinicProgram) -> None:
    """`If-Match` is required on updates; a stale validator means someone else edited first."""
    http_cache.check_if_match(if_match, current.etag, what="program")


@dataclass(frozen=True, slots=True)
class Follower:
    patient_id: int
    display_name: str
    stage: int
    linked: bool


def followers(session: Session, *, clinic_id: int, program_id: int) -> list[Follower]:
    rows = session.exec(
        select(Enrollment.user_id, User.display_name, Enrollment.current_stage, PatientLink.id)
        .join(User, col(User.id) == Enrollment.user_id)
        .join(
            PatientLink,
            (col(PatientLink.patient_id) == Enrollment.user_id)
            & (col(PatientLink.clinic_id) == clinic_id)
            & col(PatientLink.revoked_at).is_(None),
            isouter=True,
        )
        .where(Enrollment.program_id == program_id)
        .order_by(col(Enrollment.user_id))
    ).all()
    return [Follower(uid, name, stage, link is not None) for uid, name, stage, link in rows]


def _refuse_for(followers_: list[Follower], what: str) -> None:
    """409 naming the enrollments in the way: the clinic's linked patients by name; patients
    who withdrew consent only counted, since the clinic may no longer see who they are."""
    if not followers_:
        return
    linked = [f for f in followers_ if f.linked]
    others = len(followers_) - len(linked)
    names = [f"{f.display_name} (patient {f.patient_id}, stage {f.stage})" for f in linked]
    if others:
        names.append(f"{others} patient(s) no longer linked to the clinic")
    raise ConflictError(
        f"{what}: it is followed by " + "; ".join(names) + ".",
        extra={
            "enrollments": [
                {"patient_id": f.patient_id, "display_name": f.display_name, "stage": f.stage}
                for f in linked
            ],
            "unlinked_enrollments": others,
        },
    )


def _check_edit(
    session: Session, *, clinic_id: int, program_id: int, body: ClinicProgramIn
) -> None:
    following = followers(session, clinic_id=clinic_id, program_id=program_id)
    if body.status == ContentStatus.DRAFT.value:
        _refuse_for(following, "The program cannot go back to draft")
    stranded = [f for f in following if f.stage > len(body.stages)]
    _refuse_for(
        stranded, f"Stages above {len(body.stages)} cannot be removed while patients are there"
    )


def update_program(
    session: Session,
    *,
    actor: ClinicActor,
    slug: str,
    body: ClinicProgramIn,
    if_match: str | None,
    snapshot: CatalogSnapshot,
) -> ClinicProgram:
    row = _program_row(session, actor.clinic_id, slug)
    assert row.id is not None
    before = ClinicProgram(_detail(session, row))
    check_if_match(if_match, before)
    if body.slug is not None and body.slug != slug:
        raise InvalidInputError.for_field("body.slug", "A program's slug cannot change.")
    _check_exercises(snapshot, body)
    _check_edit(session, clinic_id=actor.clinic_id, program_id=row.id, body=body)
    _apply(session, actor.clinic_id, body.as_program(row.slug))
    session.refresh(row)
    after = ClinicProgram(_detail(session, row))
    if after.body != before.body:
        record_audit(
            session,
            actor=_audit_actor(actor),
            action=AuditAction.UPDATE,
            kind=KIND,
            slug=row.slug,
            before=before.body,
            after=after.body,
            clinic_id=actor.clinic_id,
        )
    return after


def delete_program(
    session: Session, *, actor: ClinicActor, slug: str, if_match: str | None
) -> None:
    """Delete a program nobody follows and nobody logged sessions in; 409 otherwise."""
    row = _program_row(session, actor.clinic_id, slug)
    assert row.id is not None
    before = ClinicProgram(_detail(session, row))
    # If-Match is optional here, and an empty one says no more than none (a 428 would be
    # for a header this operation does not require).
    if if_match is not None and if_match.strip():
        check_if_match(if_match, before)
    _refuse_for(
        followers(session, clinic_id=actor.clinic_id, program_id=row.id),
        "The program cannot be deleted",
    )
    logged = session.exec(select(SessionLog.id).where(SessionLog.program_id == row.id)).first()
    if logged is not None:
        raise ConflictError(
            "Patients logged sessions in this program and their history keeps it; "
            "set it to draft instead."
        )
    # Its stages, their exercises and condition links go with it (ON DELETE CASCADE),
    # as when an admin deletes a catalogue program.
    session.execute(delete(Program).where(col(Program.id) == row.id))
    bump_content_version(session)
    record_audit(
        session,
        actor=_audit_actor(actor),
        action=AuditAction.DELETE,
        kind=KIND,
        slug=row.slug,
        before=before.body,
        after=None,
        clinic_id=actor.clinic_id,
    )
