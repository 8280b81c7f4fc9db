"""`/problems/...`: every problem `type` URI resolves to a page saying what it means.

HTML for a person following the link, JSON for a program that asks for it
(`Accept: application/json`). Both come from the one registry in
`app.core.problems`.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from app.core.errors import NotFoundError, error_responses
from app.core.problems import PROBLEM_TYPES, ProblemType

router = APIRouter(tags=["problems"])


class ProblemTypeOut(BaseModel):
    type: str
    title: str
    status: int
    description: str


def _out(problem: ProblemType) -> ProblemTypeOut:
    return ProblemTypeOut(
        type=problem.uri,
        title=problem.title,
        status=problem.status,
        description=problem.description,
    )


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def _page(problem: ProblemType) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{escape(problem.title)}</title>"
        f"<h1>{escape(problem.title)} <small>({problem.status})</small></h1>"
        f"<p><code>type: {escape(problem.uri)}</code></p>"
        f"<p>{escape(problem.description)}</p>"
        '<p><a href="/problems">Every problem type</a> · <a href="/docs">API reference</a></p>'
    )


@router.get(
    "/problems",
    name="list_problem_types",
    summary="Every problem type the API answers with",
    description="The registry behind every `type` URI of an error response.",
    response_model=list[ProblemTypeOut],
)
async def list_problem_types() -> list[ProblemTypeOut]:
    return [_out(problem) for problem in PROBLEM_TYPES.values()]


@router.get(
    "/problems/{slug}",
    name="get_problem_type",
    summary="What one problem type means and what to do about it",
    description="An HTML page; JSON when the request asks for `application/json`.",
    response_model=ProblemTypeOut,
    responses={200: {"content": {"text/html": {}}}, **error_responses(404, 422)},
)
async def get_problem_type(
    request: Request,
    slug: Annotated[str, Path(max_length=60, pattern=r"^[a-z-]+$")],
) -> Response:
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        raise NotFoundError(f"No problem type '{slug}'; GET /problems lists them all.")
    headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept"}
    if _wants_json(request):
        return JSONResponse(_out(problem).model_dump(), headers=headers)
    return HTMLResponse(_page(problem), headers=headers)
