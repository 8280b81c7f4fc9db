"""API shapes of content management.

An admin reads and writes the same documents `rehab seed` reads from YAML
(`ConditionIn`, `ExerciseIn`, `ProgramIn`): what a GET returns can be edited
and sent back with PUT as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from app.authoring.models import AuditAction
from app.catalog.models import ContentStatus
from app.catalog.schemas import ContentInput, DosageIn, RuleIn, StageIn
from app.core.schemas import LongText, OutputModel, Page, ShortText


class ContentListItem(OutputModel):
    """One row of an admin list: enough to pick the document to open."""

    slug: str
    name: str
    status: ContentStatus
    updated_at: datetime


class ContentListPage(Page[ContentListItem]):
    pass


class StageBodyIn(ContentInput):
    """A stage sent to the stage routes: the path (or the end of the program) gives its place."""

    position: Annotated[
        int | None,
        Field(ge=1, le=50, description="Optional; when given it must match the stage's place."),
    ] = None
    name: ShortText
    guidance: LongText
    rule: RuleIn = RuleIn()
    exercises: Annotated[list[DosageIn], Field(min_length=1, max_length=50)]

    def at(self, position: int) -> StageIn:
        """This stage at `position`, validated as a stage of a program document."""
        return StageIn.model_validate({**self.model_dump(), "position": position})


class AuditActor(OutputModel):
    id: int | None = Field(description="Gone (null) once the account is deleted.")
    email: str


class AuditEntryOut(OutputModel):
    id: int
    at: datetime
    actor: AuditActor
    action: AuditAction
    kind: str = Field(description="`condition`, `exercise`, `program`, or `user` (an account).")
    slug: str
    clinic_id: int | None
    before: dict[str, Any] | None = Field(description="The document before (null on create).")
    after: dict[str, Any] | None = Field(description="The document after (null on delete).")


class AuditPage(Page[AuditEntryOut]):
    pass


class MediaStored(OutputModel):
    """An uploaded file, as stored: its key is the sha256 of its bytes."""

    key: str
    media_type: str
    size: int
    sha256: str
    changed: bool = Field(description="False when the exercise already had exactly this file.")
