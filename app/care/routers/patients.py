"""A clinic's linked patients: summaries, programs and stages, sessions, progress.

Every route here reads through the patient's `scope` (the one visibility filter):
nothing about another clinic's programs, staff or notes comes back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Path, Query, Request, Response, status

from app.care import programs, service
from app.care.deps import ManagedPatientDep, ReadablePatientDep
from app.care.schemas import AssignProgram, PatientPage, PatientSummaryOut, StageOverride
from app.care.service import PatientSummary
from app.catalog.deps import CatalogDep
from app.clinics.deps import PatientsReaderDep, ProgramsWriterDep, clinic_router, record_access
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import InvalidInputError, NotFoundError, error_responses
from app.core.http_cache import PRIVATE
from app.core.models import utcnow
from app.core.pagination import PageDep, envelope
from app.core.schemas import CURSOR_PATTERN, Slug, TimeZoneQuery
from app.progress import evaluation, present, report
from app.progress.schemas import EnrollmentDetail, ProgressOut, SessionFeed
from app.progress.sessions import feed

router = clinic_router(tags=["clinic patients"])
ACTOR_ERRORS = (401, 403, 404, 422)


def _summary(summary: PatientSummary) -> dict[str, Any]:
    user = summary.user
    return {
        "id": user.id,
        "display_name": user.display_name,
        "email": user.email,
        "linked_at": summary.linked_at,
        "programs": summary.programs,
        "sessions_last_7_days": summary.sessions_last_7_days,
        "latest_pain": summary.latest_pain,
        "pain_hold": summary.pain_hold,
        "inactive": summary.inactive,
        "adherence_7_days": summary.adherence_7_days,
        "outcomes": summary.outcomes,
    }


PatientSort = Literal[
    "name", "adherence", "-adherence", "score", "-score", "improvement", "-improvement"
]


def _latest(summary: PatientSummary, instrument: str) -> dict[str, Any] | None:
    """The patient's most recent score on `instrument`, in any program."""
    scores = [o for o in summary.outcomes if o["instrument"] == instrument]
    return max(scores, key=lambda o: o["answered_at"]) if scores else None


def _sorted(
    found: list[PatientSummary], sort: PatientSort, instrument: str | None
) -> list[PatientSummary]:
    if sort == "name":
        return found  # the summaries come by name
    if sort.lstrip("-") in ("score", "improvement") and instrument is None:
        raise InvalidInputError.for_field(
            "query.instrument", f"sort={sort} needs the instrument to sort by."
        )
    field = sort.lstrip("-")

    def value(summary: PatientSummary) -> float | None:
        if field == "adherence":
            return summary.adherence_7_days
        latest = _latest(summary, instrument or "")
        return None if latest is None else latest[field]

    known = [s for s in found if value(s) is not None]
    known.sort(key=lambda s: value(s) or 0.0, reverse=sort.startswith("-"))
    return known + [s for s in found if value(s) is None]


@router.get(
    "/patients",
    name="list_patients",
    summary="Linked patients: programs, adherence, latest pain, holds",
    response_model=PatientPage,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_patients(
    actor: PatientsReaderDep,
    session: ReadSessionDep,
    snapshot: CatalogDep,
    page: PageDep,
    request: Request,
    response: Response,
    flag: Annotated[
        Literal["pain_hold", "inactive"] | None,
        Query(description="Only patients with a pain hold, or with no session in 7 days."),
    ] = None,
    adherence_below: Annotated[
        int | None,
        Query(ge=1, le=101, description="Only patients whose 7-day adherence (%) is below this."),
    ] = None,
    instrument: Annotated[
        Slug | None,
        Query(description="Only patients with a score on this instrument; `sort=score` uses it."),
    ] = None,
    sort: Annotated[
        PatientSort,
        Query(
            description="`name` (default); `adherence` lowest first (`-adherence` highest); "
            "`score` / `-score` and `improvement` / `-improvement` of the latest score on "
            "`instrument`. Patients without the value come last."
        ),
    ] = "name",
) -> dict[str, Any]:
    """Only patients linked with live consent. Each with the programs the clinic may see (public
    ones and its own), sessions in the last 7 days, the latest pain and whether a pain hold
    applies. Every read is in each listed patient's access log."""
    found = service.patient_summaries(
        session, clinic_id=actor.clinic_id, snapshot=snapshot, now=utcnow()
    )
    if flag is not None:
        found = [s for s in found if getattr(s, flag)]
    if adherence_below is not None:
        found = [
            s
            for s in found
            if s.adherence_7_days is not None and s.adherence_7_days < adherence_below
        ]
    if instrument is not None:
        found = [s for s in found if _latest(s, instrument) is not None]
    found = _sorted(found, sort, instrument)
    response.headers["Cache-Control"] = PRIVATE
    shown = page.slice(found)
    record_access(request, actor, [s.user.id for s in shown if s.user.id is not None])
    return envelope([_summary(s) for s in shown], len(found), page)


@router.get(
    "/patients/{patient_id}",
    name="get_patient",
    summary="One linked patient's summary",
    response_model=PatientSummaryOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_patient(
    patient: ReadablePatientDep, session: ReadSessionDep, snapshot: CatalogDep
) -> dict[str, Any]:
    """404 unless the patient is linked to this clinic with live consent. Recorded in the
    patient's access log."""
    found = service.patient_summaries(
        session, clinic_id=patient.clinic_id, snapshot=snapshot, now=utcnow(), patient_id=patient.id
    )
    if not found:
        raise NotFoundError("No such patient.")
    return _summary(found[0])


@router.get(
    "/patients/{patient_id}/enrollments",
    name="list_patient_enrollments",
    summary="A patient's programs, each stage's evaluation and history",
    response_model=list[EnrollmentDetail],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_patient_enrollments(
    patient: ReadablePatientDep, session: ReadSessionDep, snapshot: CatalogDep
) -> list[EnrollmentDetail]:
    """Only programs the clinic may see: public ones and its own. Stage history names this
    clinic's staff; another clinic's changes show without who or why."""
    states = evaluation.enrollment_states(
        session, user_id=patient.id, snapshot=snapshot, now=utcnow(), scope=patient.scope
    )
    return [present.detail_of(session, state, patient.scope) for state in states]


@router.post(
    "/patients/{patient_id}/enrollments",
    name="assign_program",
    summary="Assign a program to a patient: a public one, or one of the clinic's own",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentDetail,
    responses=error_responses(401, 403, 404, 409, 422),
)
def assign_program(
    patient: ManagedPatientDep,
    body: AssignProgram,
    actor: ProgramsWriterDep,
    session: SessionDep,
    snapshot: CatalogDep,
) -> EnrollmentDetail:
    """The patient must be linked with live consent. The short slug of one of the clinic's own
    programs is tried before a public one. Queues `program.assigned`."""
    program = programs.assignable_program(snapshot, clinic_id=actor.clinic_id, slug=body.program)
    now = utcnow()
    service.assign_program(session, actor=actor, patient=patient, program=program, now=now)
    state = evaluation.enrollment_state(session, user_id=patient.id, program=program, now=now)
    return present.detail_of(session, state, patient.scope)


@router.put(
    "/patients/{patient_id}/enrollments/{program}/stage",
    name="set_patient_stage",
    summary="Set a patient's stage, overriding the rule (recorded with the reason)",
    response_model=EnrollmentDetail,
    responses=error_responses(*ACTOR_ERRORS),
)
def set_patient_stage(
    patient: ManagedPatientDep,
    program: Annotated[Slug, Path()],
    body: StageOverride,
    actor: ProgramsWriterDep,
    session: SessionDep,
    snapshot: CatalogDep,
) -> EnrollmentDetail:
    """Recorded in the stage history with the reason and who set it; the lock follows at once.
    Queues `stage.advanced` with `by: clinician`."""
    entry = programs.assignable_program(snapshot, clinic_id=actor.clinic_id, slug=program)
    now = utcnow()
    service.set_stage(
        session,
        actor=actor,
        patient=patient,
        program=entry,
        stage=body.stage,
        reason=body.reason,
        now=now,
    )
    state = evaluation.enrollment_state(session, user_id=patient.id, program=entry, now=now)
    return present.detail_of(session, state, patient.scope)


@router.get(
    "/patients/{patient_id}/sessions",
    name="list_patient_sessions",
    summary="A patient's sessions, changes since a cursor",
    response_model=SessionFeed,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_patient_sessions(
    patient: ReadablePatientDep,
    session: ReadSessionDep,
    snapshot: CatalogDep,
    since: Annotated[str | None, Query(max_length=64, pattern=CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> SessionFeed:
    """Sessions in public programs and this clinic's own only; paged by cursor like the
    patient's own feed."""
    page = feed.changes_since(
        session,
        user_id=patient.id,
        since=feed.decode_cursor(since),
        program_id=None,
        scope=patient.scope,
        limit=limit,
    )
    return present.feed(page, snapshot)


@router.get(
    "/patients/{patient_id}/progress",
    name="get_patient_progress",
    summary="A patient's progress: stage, adherence, pain trend, streak",
    response_model=ProgressOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def get_patient_progress(
    patient: ReadablePatientDep,
    session: ReadSessionDep,
    snapshot: CatalogDep,
    tz: TimeZoneQuery = "UTC",
) -> ProgressOut:
    """The patient's progress as they see it, limited to programs the clinic may see."""
    zone = ZoneInfo(tz)
    now = utcnow()
    found = report.progress_report(
        session, user_id=patient.id, snapshot=snapshot, now=now, zone=zone, scope=patient.scope
    )
    return ProgressOut.model_validate({"programs": found, "as_of": now, "timezone": tz})
