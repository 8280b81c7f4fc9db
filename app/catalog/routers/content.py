"""Catalogue endpoints: conditions, programs with their stages, exercises.

Reads come from the in-memory snapshot; each exercise is rendered for the
viewer by the presenter. Bodies are encoded once with orjson; the declared
response models document them and the tests validate bodies against them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.access.presenter import ANONYMOUS_TAG, ExercisePresenter, viewer_tag
from app.catalog.deps import SIGNED_IN_OPTIONAL, CatalogViewDep, PublicCatalogDep
from app.catalog.models import BodyRegion, Difficulty
from app.catalog.schemas import (
    ConditionDetail,
    ConditionPage,
    ExerciseFacets,
    ExerciseOut,
    ExercisePage,
    ProgramDetail,
    ProgramPage,
)
from app.catalog.search import (
    ExerciseFilters,
    ExerciseSort,
    ExerciseSource,
    facet_counts,
    matching,
    search_exercises,
)
from app.catalog.snapshot import (
    CatalogSnapshot,
    ConditionEntry,
    ProgramEntry,
    filter_conditions,
    filter_programs,
)
from app.core.config import Settings
from app.core.errors import NotFoundError, error_responses
from app.core.http_cache import PRIVATE, etag_matches
from app.core.json import JSONBytesResponse, dumps
from app.core.pagination import PageDep, envelope
from app.core.schemas import NO_NUL

router = APIRouter(prefix="/v1", default_response_class=JSONBytesResponse)


SearchQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=NO_NUL,
        description="Words to find in names and summaries (case-insensitive; all must match).",
    ),
]
SlugPath = Annotated[str, Path(max_length=120, description="The item's slug.")]
LIST_ERRORS = error_responses(422)
DETAIL_ERRORS = error_responses(404, 422)
PERSONAL_LIST_ERRORS = error_responses(401, 422)
PERSONAL_DETAIL_ERRORS = error_responses(401, 404, 422)


def _respond(
    request: Request,
    settings: Settings,
    snapshot: CatalogSnapshot,
    render: Callable[[], Any],
    presenter: ExercisePresenter | None = None,
) -> Response:
    """Answer with an ETag from the content version (and the viewer), or 304 without rendering."""
    if presenter is None or presenter.viewer.is_anonymous:
        tag = ANONYMOUS_TAG
        cache = f"public, max-age={settings.public_cache_seconds}"
    else:
        tag = viewer_tag(presenter.viewer, presenter.link_expiry())
        cache = PRIVATE
    headers = {"ETag": f'W/"c{snapshot.version}-{tag}"', "Cache-Control": cache}
    if presenter is not None:
        headers["Vary"] = "Authorization"
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if tag != ANONYMOUS_TAG:
        return JSONBytesResponse(render(), headers=headers)
    # Anonymous bodies depend on the content alone: render each URL once per version.
    key = f"{request.url.path}?{request.url.query}"
    body = snapshot.rendered.get(key)
    if body is None:
        body = dumps(render())
        snapshot.remember(key, body)
    return JSONBytesResponse(body, headers=headers)


def _condition_detail(snapshot: CatalogSnapshot, entry: ConditionEntry) -> dict[str, Any]:
    return {
        **entry.summary,
        **entry.details,
        "programs": [snapshot.program_by_slug[slug].summary for slug in entry.program_slugs],
        "related": [snapshot.condition_by_slug[slug].summary for slug in entry.related_slugs],
    }


def _program_detail(
    snapshot: CatalogSnapshot, entry: ProgramEntry, presenter: ExercisePresenter
) -> dict[str, Any]:
    return {
        **entry.summary,
        "stages": [
            {
                "position": stage.position,
                "name": stage.name,
                "guidance": stage.guidance,
                "rule": stage.rule,
                "exercises": presenter.stage_items(snapshot, stage),
            }
            for stage in entry.stages
        ],
    }


@router.get(
    "/conditions",
    tags=["conditions"],
    name="list_conditions",
    summary="List conditions",
    response_model=ConditionPage,
    responses=LIST_ERRORS,
)
async def list_conditions(
    request: Request,
    view: PublicCatalogDep,
    page: PageDep,
    q: SearchQuery = None,
    region: Annotated[BodyRegion | None, Query(description="Only this body region.")] = None,
) -> Response:
    """Public. Filter by `region`; paged with `limit` and `offset`. Anonymous answers are
    cacheable for a minute (`public, max-age=60`)."""
    snapshot, settings = view

    def render() -> dict[str, Any]:
        found = filter_conditions(snapshot, region=region, query=q)
        return envelope([c.summary for c in page.slice(found)], len(found), page)

    return _respond(request, settings, snapshot, render)


@router.get(
    "/conditions/{slug}",
    tags=["conditions"],
    name="get_condition",
    summary="A condition with its programs and related conditions",
    response_model=ConditionDetail,
    responses=DETAIL_ERRORS,
)
async def get_condition(request: Request, view: PublicCatalogDep, slug: SlugPath) -> Response:
    """Public. The programs that treat it, in order, and the related conditions it points to.
    404 for an unknown slug."""
    snapshot, settings = view
    entry = snapshot.condition_by_slug.get(slug)
    if entry is None:
        raise NotFoundError(f"No condition with slug '{slug}'.")
    return _respond(request, settings, snapshot, lambda: _condition_detail(snapshot, entry))


@router.get(
    "/programs",
    tags=["programs"],
    name="list_programs",
    summary="List programs",
    response_model=ProgramPage,
    responses=LIST_ERRORS,
)
async def list_programs(
    request: Request,
    view: PublicCatalogDep,
    page: PageDep,
    q: SearchQuery = None,
    condition: Annotated[
        str | None,
        Query(max_length=120, pattern=NO_NUL, description="Only programs for this condition slug."),
    ] = None,
) -> Response:
    """Public. Every published program with its stages' names; a clinic's own programs are never
    listed."""
    snapshot, settings = view

    def render() -> dict[str, Any]:
        found = filter_programs(snapshot, condition=condition, query=q)
        return envelope([p.summary for p in page.slice(found)], len(found), page)

    return _respond(request, settings, snapshot, render)


@router.get(
    "/programs/{slug}",
    tags=["programs"],
    name="get_program",
    summary="A program: its stages in order, each with its rule and exercises",
    description=(
        "Public programs are readable by anyone. A clinic's own program is readable only "
        "by that clinic's clinicians, admins and the patients following it; everyone else "
        "gets 404, as for a program that does not exist."
    ),
    response_model=ProgramDetail,
    responses=PERSONAL_DETAIL_ERRORS,
    openapi_extra=SIGNED_IN_OPTIONAL,
)
async def get_program(
    request: Request,
    view: CatalogViewDep,
    slug: SlugPath,
) -> Response:
    snapshot, settings, presenter = view.snapshot, view.settings, view.presenter
    entry = snapshot.any_program(slug)
    # A clinic's own program answers exactly like a missing one to anyone who may not see it.
    if entry is None or not presenter.viewer.can_see_program(entry.id, entry.clinic_id):
        raise NotFoundError(f"No program with slug '{slug}'.")
    return _respond(
        request, settings, snapshot, lambda: _program_detail(snapshot, entry, presenter), presenter
    )


async def exercise_filters(
    q: SearchQuery = None,
    region: Annotated[BodyRegion | None, Query(description="Only this body region.")] = None,
    muscle: Annotated[
        str | None,
        Query(max_length=60, pattern=NO_NUL, description="Only exercises working this muscle."),
    ] = None,
    equipment: Annotated[
        str | None,
        Query(max_length=60, pattern=NO_NUL, description="Only exercises using this equipment."),
    ] = None,
    difficulty: Annotated[Difficulty | None, Query(description="Only this difficulty.")] = None,
    source: Annotated[
        ExerciseSource | None,
        Query(
            description="Only exercises written for this catalogue (`authored`) or brought in "
            "from an external library (`imported`)."
        ),
    ] = None,
) -> ExerciseFilters:
    return ExerciseFilters(q, region, muscle, equipment, difficulty, source)


ExerciseFiltersDep = Annotated[ExerciseFilters, Depends(exercise_filters)]


@router.get(
    "/exercises",
    tags=["exercises"],
    name="list_exercises",
    summary="List exercises",
    description=(
        "By default in order of relevance: exercises whose name holds every word of `q` come "
        "before those that match on their summary alone, authored exercises before imported "
        "ones, then by name. `sort` orders by name (`name`, `-name`) or by difficulty."
    ),
    response_model=ExercisePage,
    responses=PERSONAL_LIST_ERRORS,
    openapi_extra=SIGNED_IN_OPTIONAL,
)
async def list_exercises(
    request: Request,
    view: CatalogViewDep,
    page: PageDep,
    filters: ExerciseFiltersDep,
    sort: Annotated[ExerciseSort, Query(description="The order of the list.")] = (
        ExerciseSort.RELEVANCE
    ),
) -> Response:
    snapshot, settings, presenter = view.snapshot, view.settings, view.presenter

    def render() -> dict[str, Any]:
        found = search_exercises(snapshot, filters, sort)
        items = [presenter.standalone(e) for e in page.slice(found)]
        return envelope(items, len(found), page)

    return _respond(request, settings, snapshot, render, presenter)


@router.get(
    "/exercises/facets",
    tags=["exercises"],
    name="exercise_facets",
    summary="The values of each exercise filter, with how many exercises carry them",
    description=(
        "Takes the same filters as the exercise list and counts, among the exercises they "
        "find, each body region, muscle, equipment and difficulty: what a filter menu offers."
    ),
    response_model=ExerciseFacets,
    responses=LIST_ERRORS,
)
async def exercise_facets(
    request: Request, view: PublicCatalogDep, filters: ExerciseFiltersDep
) -> Response:
    snapshot, settings = view
    return _respond(request, settings, snapshot, lambda: facet_counts(matching(snapshot, filters)))


@router.get(
    "/exercises/{slug}",
    tags=["exercises"],
    name="get_exercise",
    summary="One exercise: unlocked when any program context unlocks it for you",
    response_model=ExerciseOut,
    responses=PERSONAL_DETAIL_ERRORS,
    openapi_extra=SIGNED_IN_OPTIONAL,
)
async def get_exercise(
    request: Request,
    view: CatalogViewDep,
    slug: SlugPath,
) -> Response:
    """Anonymous callers get the locked teaser. A signed-in person gets it unlocked when a
    program they may see unlocks its stage for them; the `lock` says why not otherwise."""
    snapshot, settings, presenter = view.snapshot, view.settings, view.presenter
    entry = snapshot.exercise_by_slug.get(slug)
    if entry is None:
        raise NotFoundError(f"No exercise with slug '{slug}'.")
    return _respond(request, settings, snapshot, lambda: presenter.standalone(entry), presenter)
