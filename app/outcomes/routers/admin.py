"""Instruments for admins: create, version, edit drafts, publish. Published versions are frozen."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Response, status

from app.authoring.deps import admin_router
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import error_responses
from app.core.models import as_utc, utcnow
from app.core.pagination import PageDep, envelope
from app.core.schemas import SLUG_PATTERN
from app.outcomes import instruments
from app.outcomes.definition import InstrumentDefinition
from app.outcomes.models import Instrument, InstrumentStatus
from app.outcomes.schemas import InstrumentOut, InstrumentPage, InstrumentVersion, NewInstrument

router = admin_router()

InstrumentSlugPath = Annotated[str, Path(max_length=120, pattern=SLUG_PATTERN)]
VersionPath = Annotated[int, Path(ge=1, le=10_000, description="The version, from 1.")]
StatusQuery = Annotated[InstrumentStatus | None, Query(description="Only drafts or published.")]
SlugQuery = Annotated[str | None, Query(max_length=120, pattern=SLUG_PATTERN)]
LOADING = (
    "The definition is data: items with answer options and values, and a scoring rule "
    "(`sum` or `mean`, `scale_to_100`, reversed items, subscales, `min_answered`, "
    "`better`, `mcid`). A licensed instrument (LEFS, HOOS-12, KOOS-12) is loaded this way "
    "by whoever holds the licence: see the README."
)


def _out(instrument: Instrument) -> dict[str, Any]:
    """The definition, with the version's own members beside it (read-only on the way back)."""
    return {
        **instrument.definition,
        "slug": instrument.slug,
        "version": instrument.version,
        "status": instrument.status,
        "created_at": as_utc(instrument.created_at),
        "published_at": None
        if instrument.published_at is None
        else as_utc(instrument.published_at),
    }


def _location(instrument: Instrument, response: Response) -> None:
    response.headers["Location"] = (
        f"/v1/admin/instruments/{instrument.slug}/versions/{instrument.version}"
    )


@router.get(
    "/instruments",
    name="admin_list_instruments",
    response_model=InstrumentPage,
    responses=error_responses(422),
)
def list_instruments(
    session: ReadSessionDep, page: PageDep, slug: SlugQuery = None, status: StatusQuery = None
) -> dict[str, Any]:
    """Every version of every instrument, by slug, newest version first."""
    found, total = instruments.list_versions(session, slug=slug, status=status, page=page)
    return envelope([_out(instrument) for instrument in found], total, page)


@router.post(
    "/instruments",
    name="admin_create_instrument",
    status_code=status.HTTP_201_CREATED,
    response_model=InstrumentOut,
    responses=error_responses(409, 422),
    description=LOADING,
)
def create_instrument(
    body: NewInstrument, session: SessionDep, response: Response
) -> dict[str, Any]:
    """Create an instrument: version 1, a draft until published."""
    definition = InstrumentDefinition.model_validate(body.model_dump(exclude={"slug"}))
    created = instruments.create(session, slug=body.slug, definition=definition, now=utcnow())
    _location(created, response)
    return _out(created)


@router.post(
    "/instruments/{slug}/versions",
    name="admin_add_instrument_version",
    status_code=status.HTTP_201_CREATED,
    response_model=InstrumentOut,
    responses=error_responses(404, 409, 422),
)
def add_version(
    slug: InstrumentSlugPath, body: InstrumentVersion, session: SessionDep, response: Response
) -> dict[str, Any]:
    """The next version of an instrument, a draft; earlier versions and their responses stay."""
    created = instruments.add_version(session, slug=slug, definition=body, now=utcnow())
    _location(created, response)
    return _out(created)


@router.get(
    "/instruments/{slug}/versions/{version}",
    name="admin_get_instrument_version",
    response_model=InstrumentOut,
    responses=error_responses(404, 422),
)
def get_version(
    slug: InstrumentSlugPath, version: VersionPath, session: ReadSessionDep
) -> dict[str, Any]:
    """One version of an instrument."""
    return _out(instruments.get_version(session, slug=slug, version=version))


@router.put(
    "/instruments/{slug}/versions/{version}",
    name="admin_edit_instrument_draft",
    response_model=InstrumentOut,
    responses=error_responses(404, 409, 422),
)
def edit_draft(
    slug: InstrumentSlugPath,
    version: VersionPath,
    body: InstrumentVersion,
    session: SessionDep,
) -> dict[str, Any]:
    """Replace a draft's definition; a published version is refused with 409."""
    return _out(instruments.edit_draft(session, slug=slug, version=version, definition=body))


@router.post(
    "/instruments/{slug}/versions/{version}/publish",
    name="admin_publish_instrument",
    response_model=InstrumentOut,
    responses=error_responses(404, 409, 422),
)
def publish(slug: InstrumentSlugPath, version: VersionPath, session: SessionDep) -> dict[str, Any]:
    """Make a draft the version new responses answer; responses to older ones keep theirs."""
    return _out(instruments.publish(session, slug=slug, version=version, now=utcnow()))
