"""The one writer of instruments: admins' drafts, versions and publishing, and the seed.

A published version is frozen. Changing a published instrument means a new
version, which starts as a draft; responses already stored keep the version
they answered and its scoring.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.changes import CONTENT_CHANGED, record
from app.core.errors import ConflictError, NotFoundError
from app.core.pagination import PageParams
from app.outcomes.definition import InstrumentDefinition
from app.outcomes.models import Instrument, InstrumentStatus


def definition_of(instrument: Instrument) -> InstrumentDefinition:
    return InstrumentDefinition.model_validate(instrument.definition)


def _stored(definition: InstrumentDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", exclude_none=True)


def list_versions(
    session: Session, *, slug: str | None, status: InstrumentStatus | None, page: PageParams
) -> tuple[list[Instrument], int]:
    """Every version, by slug then newest version first."""
    query = select(Instrument)
    if slug is not None:
        query = query.where(col(Instrument.slug) == slug)
    if status is not None:
        query = query.where(col(Instrument.status) == status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Instrument.slug), col(Instrument.version).desc())
        .offset(page.offset)
        .limit(page.limit)
    ).all()
    return list(rows), total


def get_version(session: Session, *, slug: str, version: int) -> Instrument:
    found = session.exec(
        select(Instrument).where(col(Instrument.slug) == slug, col(Instrument.version) == version)
    ).first()
    if found is None:
        raise NotFoundError(f"No version {version} of instrument {slug!r}.")
    return found


def latest_published(session: Session, slug: str) -> Instrument | None:
    return session.exec(
        select(Instrument)
        .where(col(Instrument.slug) == slug, col(Instrument.status) == InstrumentStatus.PUBLISHED)
        .order_by(col(Instrument.version).desc())
        .limit(1)
    ).first()


def _versions(session: Session, slug: str) -> list[Instrument]:
    return list(
        session.exec(
            select(Instrument)
            .where(col(Instrument.slug) == slug)
            .order_by(col(Instrument.version))
            .with_for_update()
        ).all()
    )


def create(
    session: Session, *, slug: str, definition: InstrumentDefinition, now: datetime
) -> Instrument:
    """Version 1 of a new instrument, as a draft."""
    if _versions(session, slug):
        raise ConflictError(
            f"Instrument {slug!r} exists; add a version at /v1/admin/instruments/{slug}/versions."
        )
    return _add(session, slug=slug, version=1, definition=definition, now=now)


def add_version(
    session: Session, *, slug: str, definition: InstrumentDefinition, now: datetime
) -> Instrument:
    """The next version of an instrument, as a draft (one draft at a time)."""
    versions = _versions(session, slug)
    if not versions:
        raise NotFoundError(f"No instrument {slug!r}.")
    draft = next((v for v in versions if v.status == InstrumentStatus.DRAFT), None)
    if draft is not None:
        raise ConflictError(f"Version {draft.version} of {slug!r} is a draft still: edit that one.")
    return _add(
        session, slug=slug, version=versions[-1].version + 1, definition=definition, now=now
    )


def _add(
    session: Session, *, slug: str, version: int, definition: InstrumentDefinition, now: datetime
) -> Instrument:
    instrument = Instrument(
        slug=slug,
        version=version,
        status=InstrumentStatus.DRAFT,
        title=definition.title,
        definition=_stored(definition),
        created_at=now,
    )
    session.add(instrument)
    session.flush()
    return instrument


def edit_draft(
    session: Session, *, slug: str, version: int, definition: InstrumentDefinition
) -> Instrument:
    instrument = get_version(session, slug=slug, version=version)
    if instrument.status != InstrumentStatus.DRAFT:
        raise ConflictError(
            f"Version {version} of {slug!r} is published and never changes: add a new version."
        )
    instrument.title = definition.title
    instrument.definition = _stored(definition)
    session.add(instrument)
    session.flush()
    return instrument


def publish(session: Session, *, slug: str, version: int, now: datetime) -> Instrument:
    """Make a draft the version people answer from now on."""
    instrument = get_version(session, slug=slug, version=version)
    if instrument.status == InstrumentStatus.PUBLISHED:
        raise ConflictError(f"Version {version} of {slug!r} is published already.")
    instrument.status = InstrumentStatus.PUBLISHED
    instrument.published_at = now
    session.add(instrument)
    session.flush()
    # Questionnaires due (on everyone's home screen) now come in this version.
    record(session, CONTENT_CHANGED)
    return instrument


# ---------------------------------------------------------------------------
# The seed: instruments whose wording is ours (seed/instruments/*.yaml)


class SeedError(ValueError):
    """A seed file that does not hold a valid instrument."""


def read_seed(folder: Path) -> dict[str, InstrumentDefinition]:
    """Each `<slug>.yaml` under `folder`, validated; an absent folder holds none."""
    found: dict[str, InstrumentDefinition] = {}
    for path in sorted(folder.glob("*.y*ml")):
        try:
            found[path.stem] = InstrumentDefinition.model_validate(
                yaml.safe_load(path.read_text(encoding="utf-8"))
            )
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise SeedError(f"{path}: {exc}") from exc
    return found


def apply_seed(
    session: Session, definitions: dict[str, InstrumentDefinition], *, now: datetime
) -> int:
    """Publish each seed instrument whose newest version differs; returns how many."""
    written = 0
    for slug, definition in definitions.items():
        versions = _versions(session, slug)
        if versions and versions[-1].definition == _stored(definition):
            continue
        if versions and versions[-1].status == InstrumentStatus.DRAFT:
            draft = edit_draft(
                session, slug=slug, version=versions[-1].version, definition=definition
            )
        else:
            version = versions[-1].version + 1 if versions else 1
            draft = _add(session, slug=slug, version=version, definition=definition, now=now)
        if draft.status == InstrumentStatus.DRAFT:
            publish(session, slug=slug, version=draft.version, now=now)
        written += 1
    return written
