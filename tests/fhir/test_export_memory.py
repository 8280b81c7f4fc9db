"""A bulk export of thousands of patients runs in bounded memory.

The export reads `BATCH` resources at a time and writes each batch out before
reading the next, so its peak memory (measured with tracemalloc) must not grow
with the number of patients: exporting ten times as many stays near the same
peak.
"""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import select

from app.catalog.loading import load_snapshot
from app.catalog.models import Exercise, Program
from app.clinics.access_log import AccessLog
from app.clinics.models import AccessRecord, Clinic, PatientLink
from app.core.db import Database
from app.core.models import table_of, utcnow
from app.fhir import export
from app.fhir.models import ExportJob, ExportStatus
from app.fhir.resources import REGISTRY
from app.identity.models import User
from app.progress.models import Enrollment, SessionEntry, SessionLog

PROGRAM = "whole-leg-rehabilitation"
SESSIONS_EACH = 3


def populate(database: Database, clinic_id: int, patients: int, first_id: int) -> None:
    """`patients` linked people, each enrolled with a few sessions, written in bulk."""
    now = utcnow()
    with database.write_session() as session:
        program_id = session.exec(select(Program.id).where(Program.slug == PROGRAM)).one()
        exercise_ids = list(session.exec(select(Exercise.id).limit(2)))
        ids = range(first_id, first_id + patients)
        session.execute(
            insert(table_of(User)),
            [
                {
                    "id": i,
                    "email": f"bulk{i}@example.com",
                    "password_hash": "-",
                    "display_name": f"Patient {i}",
                    "role": "member",
                    "disabled": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in ids
            ],
        )
        session.execute(
            insert(table_of(PatientLink)),
            [{"clinic_id": clinic_id, "patient_id": i, "created_at": now} for i in ids],
        )
        session.execute(
            insert(table_of(Enrollment)),
            [
                {
                    "user_id": i,
                    "program_id": program_id,
                    "current_stage": 1,
                    "started_at": now - timedelta(days=20),
                    "stage_started_at": now - timedelta(days=20),
                }
                for i in ids
            ],
        )
        logs, entries = [], []
        for i in ids:
            for n in range(SESSIONS_EACH):
                sid = str(uuid.uuid4())
                when = now - timedelta(days=n * 3)
                logs.append(
                    {
                        "id": sid,
                        "user_id": i,
                        "program_id": program_id,
                        "stage_position": 1,
                        "performed_at": when,
                        "seq": n + 1,
                        "created_at": when,
                        "updated_at": when,
                    }
                )
                entries += [
                    {
                        "session_id": sid,
                        "user_id": i,
                        "program_id": program_id,
                        "stage_position": 1,
                        "performed_at": when,
                        "exercise_id": exercise_id,
                        "position": position,
                        "sets_done": 2,
                        "difficulty": "easy",
                        "pain": 2,
                    }
                    for position, exercise_id in enumerate(exercise_ids, start=1)
                ]
        session.execute(insert(table_of(SessionLog)), logs)
        session.execute(insert(table_of(SessionEntry)), entries)


def export_peak(database: Database, clinic_id: int, data_dir: Path) -> tuple[int, int]:
    """(peak bytes while exporting, lines written)."""
    now = utcnow()
    with database.write_session() as session:
        job = ExportJob(
            id=uuid.uuid4().hex,
            clinic_id=clinic_id,
            request_url="test",
            api_root="http://testserver",
            types=list(REGISTRY.types),
            expires_at=now + timedelta(hours=1),
            status=ExportStatus.QUEUED,
        )
        session.add(job)
        job_id = job.id
    with database.read_session() as session:
        snapshot = load_snapshot(session, media_url=lambda key: key)
    # Each patient written is logged as read: the log writes in the background as it runs.
    reads = AccessLog(database, flush_seconds=1, retention=timedelta(days=1))
    reads.start()
    tracemalloc.start()
    try:
        export.run_export(
            database, job_id, snapshot=snapshot, registry=REGISTRY, data_dir=data_dir, reads=reads
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        reads.stop()
    with database.read_session() as session:
        finished = session.get(ExportJob, job_id)
        assert finished is not None
        assert finished.status == ExportStatus.COMPLETED, finished.error
        return peak, sum(item["count"] for item in finished.output)


@pytest.mark.usefixtures("seeded")
def test_export_memory_does_not_grow_with_the_number_of_patients(
    database: Database, tmp_path: Path
) -> None:
    with database.write_session() as session:
        small, large = Clinic(name="Small"), Clinic(name="Large")
        session.add_all([small, large])
        session.flush()
        assert small.id is not None
        assert large.id is not None
        small_id, large_id = small.id, large.id
    populate(database, small_id, 300, first_id=100_000)
    populate(database, large_id, 3000, first_id=200_000)

    small_peak, small_lines = export_peak(database, small_id, tmp_path)
    large_peak, large_lines = export_peak(database, large_id, tmp_path)

    assert large_lines >= 10 * 300 * (3 + SESSIONS_EACH)  # every patient was written
    assert large_lines > 9 * small_lines
    print(
        f"\nexport peak: 300 patients {small_peak / 2**20:.1f} MiB ({small_lines} lines), "
        f"3000 patients {large_peak / 2**20:.1f} MiB ({large_lines} lines)"
    )
    assert large_peak < 1.5 * small_peak + 2 * 2**20
    # Every patient exported is in their access log once, however many resources they had.
    with database.read_session() as session:
        logged = session.exec(
            select(AccessRecord.patient_id).where(AccessRecord.clinic_id == large_id)
        ).all()
    assert len(logged) == len(set(logged)) == 3000
