"""Exporting everything held about a person, as one streamed JSON document.

GDPR articles 15 and 20: the profile, consents and clinic links, enrollments
with their stage history, every session with its entries, ratings, the
questionnaires scheduled and every response with its scores, reminders, sign-ins,
the mail sent, and who at a clinic read their data. Sessions and reads are
read and written out a batch at a time, so a person with years of history
exports in bounded memory; the rest is bounded by the catalogue and by the few
things one person has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from sqlmodel import Session, col, select

from app.accounts.schemas import EXPORT_FORMAT
from app.catalog.models import Exercise, Program
from app.clinics import access_log
from app.clinics.models import Clinic, PatientLink
from app.core.db import Database
from app.core.models import as_utc
from app.identity.models import RefreshFamily, User
from app.outbox.models import Channel, OutboxMessage
from app.outcomes import export as outcomes
from app.progress.models import Enrollment, ExerciseRating, SessionEntry, SessionLog, StageChange

BATCH = 500


def _at(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment is not None else None


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def export_document(database: Database, user_id: int, now: datetime) -> Iterator[bytes]:
    """The export, in chunks; its own read session lasts as long as the stream."""
    with database.read_session() as session:
        user = session.get(User, user_id)
        if user is None:
            return
        names = _Names(session)
        yield b'{"format":' + _json(EXPORT_FORMAT) + b',"exported_at":' + _json(_at(now))
        yield b',"profile":' + _json(_profile(user))
        yield b',"clinic_links":' + _json(_links(session, user_id))
        yield b',"enrollments":' + _json(_enrollments(session, user_id, names))
        yield b',"ratings":' + _json(_ratings(session, user_id, names))
        yield b',"questionnaires":' + _json(outcomes.questionnaires_of(session, user_id))
        yield b',"responses":' + _json(outcomes.responses_of(session, user_id))
        yield b',"reminders":' + _json(outcomes.reminders_of(session, user_id))
        yield b',"sign_ins":' + _json(_sign_ins(session, user_id))
        yield b',"mail":' + _json(_mail(session, user_id))
        yield b',"sessions":['
        first = True
        for batch in _session_batches(session, user_id, names):
            chunk = b",".join(_json(item) for item in batch)
            yield chunk if first else b"," + chunk
            first = False
        yield b'],"access_log":['
        first = True
        for reads in access_log.batches_of_patient(session, user_id, BATCH):
            chunk = b",".join(_json(access_log.present(r).model_dump(mode="json")) for r in reads)
            yield chunk if first else b"," + chunk
            first = False
        yield b"]}"


class _Names:
    """Slugs of the programs and exercises a person's rows point at, read once each."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._programs: dict[int, tuple[str, str]] = {}
        self._exercises: dict[int, str] = {}

    def program(self, program_id: int) -> tuple[str, str]:
        if program_id not in self._programs:
            row = self._session.get(Program, program_id)
            self._programs[program_id] = (row.slug, row.name) if row else (str(program_id), "")
        return self._programs[program_id]

    def exercises(self, exercise_ids: Iterable[int]) -> dict[int, str]:
        missing = [i for i in set(exercise_ids) if i not in self._exercises]
        if missing:
            rows = self._session.exec(
                select(Exercise.id, Exercise.slug).where(col(Exercise.id).in_(missing))
            )
            self._exercises.update({i: slug for i, slug in rows if i is not None})
        return self._exercises


def _profile(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": str(user.role),
        "email_verified": user.email_verified,
        "created_at": _at(user.created_at),
        "updated_at": _at(user.updated_at),
    }


def _links(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(PatientLink, Clinic.name)
        .join(Clinic, col(Clinic.id) == PatientLink.clinic_id)
        .where(PatientLink.patient_id == user_id)
        .order_by(col(PatientLink.created_at))
    )
    return [
        {
            "clinic_id": link.clinic_id,
            "clinic_name": name,
            "linked_at": _at(link.created_at),
            "withdrawn_at": _at(link.revoked_at),
        }
        for link, name in rows
    ]


def _enrollments(session: Session, user_id: int, names: _Names) -> list[dict[str, Any]]:
    enrollments = session.exec(
        select(Enrollment).where(Enrollment.user_id == user_id).order_by(col(Enrollment.id))
    ).all()
    ids = [e.id for e in enrollments]
    history: dict[int, list[dict[str, Any]]] = {i: [] for i in ids if i is not None}
    for change in session.exec(
        select(StageChange)
        .where(col(StageChange.enrollment_id).in_(ids))
        .order_by(col(StageChange.changed_at), col(StageChange.id))
    ):
        history[change.enrollment_id].append(
            {
                "from_stage": change.from_stage,
                "to_stage": change.to_stage,
                "reason": str(change.reason),
                "changed_by": change.changed_by_id,
                "clinic_id": change.clinic_id,
                "note": change.note,
                "changed_at": _at(change.changed_at),
            }
        )
    found = []
    for enrollment in enrollments:
        slug, name = names.program(enrollment.program_id)
        found.append(
            {
                "program": slug,
                "program_name": name,
                "current_stage": enrollment.current_stage,
                "started_at": _at(enrollment.started_at),
                "stage_started_at": _at(enrollment.stage_started_at),
                "completed_at": _at(enrollment.completed_at),
                "assigned_by": enrollment.assigned_by_id,
                "assigned_by_clinic": enrollment.assigned_clinic_id,
                "history": history.get(enrollment.id or 0, []),
            }
        )
    return found


def _ratings(session: Session, user_id: int, names: _Names) -> list[dict[str, Any]]:
    ratings = session.exec(select(ExerciseRating).where(ExerciseRating.user_id == user_id)).all()
    exercises = names.exercises(r.exercise_id for r in ratings)
    return [
        {
            "program": names.program(r.program_id)[0],
            "stage": r.stage_position,
            "exercise": exercises.get(r.exercise_id, str(r.exercise_id)),
            "difficulty": str(r.difficulty),
            "performed_at": _at(r.performed_at),
        }
        for r in ratings
    ]


def _sign_ins(session: Session, user_id: int) -> list[dict[str, Any]]:
    families = session.exec(
        select(RefreshFamily)
        .where(RefreshFamily.user_id == user_id)
        .order_by(col(RefreshFamily.created_at))
    )
    return [
        {
            "device": family.device,
            "created_at": _at(family.created_at),
            "last_used_at": _at(family.last_used_at),
            "ended_at": _at(family.revoked_at),
            "ended_because": family.revoked_reason,
        }
        for family in families
    ]


def _mail(session: Session, user_id: int) -> list[dict[str, Any]]:
    messages = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.user_id == user_id, OutboxMessage.channel == Channel.MAIL)
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    )
    return [
        {
            "to": message.payload.get("to", ""),
            "subject": message.payload.get("subject", ""),
            "kind": message.payload.get("kind", message.event_type),
            "status": str(message.status),
            "created_at": _at(message.created_at),
            "sent_at": _at(message.delivered_at),
        }
        for message in messages
    ]


def _session_batches(
    session: Session, user_id: int, names: _Names
) -> Iterator[list[dict[str, Any]]]:
    """Every session, oldest change first, `BATCH` at a time (keyset on the change number)."""
    after = 0
    while True:
        logs = session.exec(
            select(SessionLog)
            .where(SessionLog.user_id == user_id, col(SessionLog.seq) > after)
            .order_by(col(SessionLog.seq))
            .limit(BATCH)
        ).all()
        if not logs:
            return
        after = logs[-1].seq
        entries: dict[str, list[SessionEntry]] = {log.id: [] for log in logs}
        for entry in session.exec(
            select(SessionEntry)
            .where(col(SessionEntry.session_id).in_(list(entries)))
            .order_by(col(SessionEntry.session_id), col(SessionEntry.position))
        ):
            entries[entry.session_id].append(entry)
        exercises = names.exercises(e.exercise_id for rows in entries.values() for e in rows)
        yield [
            {
                "id": log.id,
                "program": names.program(log.program_id)[0],
                "stage": log.stage_position,
                "performed_at": _at(log.performed_at),
                "note": log.note,
                "created_at": _at(log.created_at),
                "updated_at": _at(log.updated_at),
                "deleted_at": _at(log.deleted_at),
                "entries": [
                    {
                        "exercise": exercises.get(e.exercise_id, str(e.exercise_id)),
                        "sets_done": e.sets_done,
                        "reps_done": e.reps_done,
                        "hold_seconds_done": e.hold_seconds_done,
                        "difficulty": str(e.difficulty),
                        "pain": e.pain,
                        "note": e.note,
                    }
                    for e in entries[log.id]
                ],
            }
            for log in logs
        ]
        session.expunge_all()  # what was written out is not kept in memory
