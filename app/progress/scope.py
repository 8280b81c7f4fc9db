"""Which of a person's rows a reader may see: the one visibility filter for clinics.

A person sees everything they follow. A clinic sees what its patient does in
public programs and in the clinic's own programs, never in another clinic's:
a patient linked to two clinics may follow a program each of them built, and
each clinic's notes, pain reports and staff are its own business. Every read
of a person's enrollments, stage history, sessions, pain and progress takes a
`ProgramScope` (it is a required argument), and applies it in the query.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Mapped
from sqlmodel import col

from app.catalog.models import Program


@dataclass(frozen=True, slots=True)
class ProgramScope:
    clinic_id: int | None = None  # None: the person's own view of themselves

    @classmethod
    def of_clinic(cls, clinic_id: int) -> ProgramScope:
        return cls(clinic_id)

    @property
    def is_own(self) -> bool:
        return self.clinic_id is None

    def rows(self, program_id: Mapped[int]) -> ColumnElement[bool]:
        """The SQL condition: this row's program (`col(Model.program_id)`) may be seen."""
        if self.clinic_id is None:
            return true()
        visible = select(col(Program.id)).where(
            or_(col(Program.clinic_id).is_(None), col(Program.clinic_id) == self.clinic_id)
        )
        return program_id.in_(visible)

    def allows_program(self, clinic_id: int | None) -> bool:
        """In memory, for a program owned by `clinic_id` (None: the public catalogue)."""
        return self.clinic_id is None or clinic_id is None or clinic_id == self.clinic_id

    def shows_staff_of(self, clinic_id: int | None) -> bool:
        """Whether a clinician's name and reason, recorded for `clinic_id`, may be shown.

        Another clinic's staff and reasons are shown as neither; so is a clinician's
        change recorded without its clinic, which no clinic can claim.
        """
        return self.clinic_id is None or clinic_id == self.clinic_id


OWN = ProgramScope()
