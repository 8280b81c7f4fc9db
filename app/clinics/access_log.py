"""Who looked at a patient's data: every read by a clinic's staff, an admin or an API client.

A read route records what it read with `AccessLog.record`, which only appends to a
list in memory (about a microsecond); a thread writes the list in one INSERT every
`ACCESS_LOG_FLUSH_SECONDS`, or sooner once `BATCH` records wait, and the rest when
the app stops. So the read path never waits for the log, and a process killed
outright loses at most the last second of records. This class is the table's
only writer: nothing updates a record, and only `prune` removes them, once they
are older than `ACCESS_LOG_DAYS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.access.policy import Role
from app.clinics.models import AccessRecord, Clinic
from app.clinics.schemas import (
    AccessActor,
    AccessClinic,
    AccessPatient,
    AccessRecordOut,
)
from app.clinics.service import ClinicActor
from app.core.db import Database
from app.core.models import utcnow
from app.core.pagination import PageParams
from app.core.state import StateKey
from app.identity.models import ApiClient, User

logger = logging.getLogger(__name__)

BATCH = 500
# Past this many unwritten records (the database down for long), the oldest are dropped
# with an error logged, rather than the process running out of memory.
MAX_PENDING = 200_000
PRUNE_EVERY_SECONDS = 3600.0


class AccessLog:
    def __init__(self, database: Database, *, flush_seconds: float, retention: timedelta) -> None:
        self._database = database
        self._flush_seconds = flush_seconds
        self.retention = retention
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # Held while a batch is written, so `flush` returns only once its records are in.
        self._writing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0

    # -- the read path ------------------------------------------------------

    def record(
        self, actor: ClinicActor, patient_ids: Iterable[int], *, what: str, path: str
    ) -> None:
        """Note that `actor` read these patients' data (through route `what`, at `path`)."""
        self.record_for(
            actor.clinic_id,
            patient_ids,
            user_id=actor.actor_user_id,
            client_pk=actor.client.client_pk if actor.client else None,
            what=what,
            path=path,
        )

    def record_for(
        self,
        clinic_id: int,
        patient_ids: Iterable[int],
        *,
        user_id: int | None,
        client_pk: int | None,
        what: str,
        path: str,
    ) -> None:
        """The same, for work done later on someone's behalf (a bulk export's job)."""
        now = utcnow()
        rows = [
            {
                "at": now,
                "clinic_id": clinic_id,
                "patient_id": patient_id,
                "actor_user_id": user_id,
                "actor_client_id": client_pk,
                "what": what[:64],
                "path": path[:300],
            }
            for patient_id in patient_ids
        ]
        if not rows:
            return
        with self._lock:
            self._pending.extend(rows)
            overflow = len(self._pending) - MAX_PENDING
            if overflow > 0:
                del self._pending[:overflow]
            full = len(self._pending) >= BATCH
        if overflow > 0:
            logger.error("the access log could not be written: %d records dropped", overflow)
        if full:
            self._wake.set()

    # -- the writer ---------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        # The first pruning a minute after start, then hourly: not in every start-up's path.
        self._pruned_at = time.monotonic() - PRUNE_EVERY_SECONDS + 60
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is pending and stop the thread (the app's shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the next round tries again; records stay pending
                logger.exception("writing the access log failed")
            if time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
                self._pruned_at = time.monotonic()  # failed or not, once an hour
                try:
                    self.prune(utcnow())
                except Exception:
                    logger.exception("removing old access records failed")

    def flush(self) -> int:
        """Write every pending record now; answers how many were written."""
        with self._writing:
            with self._lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                self._insert(rows)
            except Exception:
                with self._lock:  # keep them for the next round: nothing read goes unlogged
                    self._pending[:0] = rows
                raise
            return len(rows)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self._database.write_session() as session:
                session.execute(insert(AccessRecord), rows)
        except IntegrityError:
            # Someone in the batch was erased meanwhile: a record of a patient no longer
            # there goes with them; a staff member or client erased is shown as such.
            with self._database.write_session() as session:
                kept = _still_there(session, rows)
                if kept:
                    session.execute(insert(AccessRecord), kept)

    def prune(self, now: datetime) -> int:
        """Remove records older than the retention period; answers how many."""
        with self._database.write_session() as session:
            result = session.execute(
                delete(AccessRecord).where(col(AccessRecord.at) < now - self.retention)
            )
        return int(getattr(result, "rowcount", 0) or 0)


def _still_there(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users = {r["patient_id"] for r in rows} | {r["actor_user_id"] for r in rows}
    clinics = {r["clinic_id"] for r in rows}
    clients = {r["actor_client_id"] for r in rows}
    known_users = set(session.exec(select(User.id).where(col(User.id).in_(users - {None}))))
    known_clinics = set(session.exec(select(Clinic.id).where(col(Clinic.id).in_(clinics))))
    known_clients = set(
        session.exec(select(ApiClient.id).where(col(ApiClient.id).in_(clients - {None})))
    )
    kept = []
    for row in rows:
        if row["patient_id"] not in known_users or row["clinic_id"] not in known_clinics:
            continue
        if row["actor_user_id"] not in known_users:
            row = {**row, "actor_user_id": None}
        if row["actor_client_id"] not in known_clients:
            row = {**row, "actor_client_id": None}
        kept.append(row)
    return kept


ACCESS_LOG = StateKey[AccessLog]("access_log")


# ---------------------------------------------------------------------------
# Reading the log


@dataclass(frozen=True, slots=True)
class Access:
    record: AccessRecord
    clinic_name: str
    patient: User
    actor_user: User | None
    actor_client: ApiClient | None


def _entries(session: Session, conditions: list[Any], page: PageParams) -> tuple[list[Access], int]:
    total = session.exec(select(func.count()).select_from(AccessRecord).where(*conditions)).one()
    rows = _accesses(session, conditions, newest_first=True, offset=page.offset, limit=page.limit)
    return rows, int(total)


def _accesses(
    session: Session, conditions: list[Any], *, newest_first: bool, offset: int, limit: int
) -> list[Access]:
    patient = aliased(User)
    actor = aliased(User)
    order = col(AccessRecord.id).desc() if newest_first else col(AccessRecord.id)
    rows = session.execute(
        sa_select(AccessRecord, col(Clinic.name), patient, actor, ApiClient)
        .join(Clinic, col(Clinic.id) == AccessRecord.clinic_id)
        .join(patient, col(patient.id) == AccessRecord.patient_id)
        .outerjoin(actor, col(actor.id) == AccessRecord.actor_user_id)
        .outerjoin(ApiClient, col(ApiClient.id) == AccessRecord.actor_client_id)
        .where(*conditions)
        .order_by(order)
        .offset(offset)
        .limit(limit)
    ).all()
    return [Access(*row) for row in rows]


def batches_of_patient(session: Session, patient_id: int, size: int) -> Iterator[list[Access]]:
    """Every read of this patient's data, oldest first, `size` at a time (for the export)."""
    after = 0
    while True:
        conditions = [col(AccessRecord.patient_id) == patient_id, col(AccessRecord.id) > after]
        batch = _accesses(session, conditions, newest_first=False, offset=0, limit=size)
        if not batch:
            return
        after = batch[-1].record.id or after
        yield batch


def of_patient(session: Session, patient_id: int, page: PageParams) -> tuple[list[Access], int]:
    """Who read this patient's data, in every clinic; newest first."""
    return _entries(session, [col(AccessRecord.patient_id) == patient_id], page)


def of_clinic(
    session: Session, clinic_id: int, page: PageParams, *, patient_id: int | None = None
) -> tuple[list[Access], int]:
    """Every read in this clinic (of one patient, if given); newest first."""
    conditions: list[Any] = [col(AccessRecord.clinic_id) == clinic_id]
    if patient_id is not None:
        conditions.append(col(AccessRecord.patient_id) == patient_id)
    return _entries(session, conditions, page)


def present(access: Access) -> AccessRecordOut:
    record = access.record
    assert record.id is not None
    assert access.patient.id is not None
    return AccessRecordOut(
        id=record.id,
        at=record.at,
        clinic=AccessClinic(id=record.clinic_id, name=access.clinic_name),
        patient=AccessPatient(id=access.patient.id, display_name=access.patient.display_name),
        actor=_actor(access),
        what=record.what,
        path=record.path,
    )


def _actor(access: Access) -> AccessActor:
    if access.actor_client is not None:
        return AccessActor(
            kind="api_client", id=access.actor_client.id, name=access.actor_client.name
        )
    user = access.actor_user
    if user is None:
        return AccessActor(kind="erased", id=None, name="erased account")
    kind: Literal["clinic_staff", "administrator"] = (
        "administrator" if user.role == Role.ADMIN else "clinic_staff"
    )
    return AccessActor(kind=kind, id=user.id, name=user.display_name)
