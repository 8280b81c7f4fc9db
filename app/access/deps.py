"""Who is calling, and the presenter that renders exercises for them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.access.policy import ANONYMOUS, Viewer
from app.access.presenter import ExercisePresenter
from app.core.deps import MediaSignerDep


def current_viewer() -> Viewer:
    """Every caller is anonymous until sign-in exists."""
    return ANONYMOUS


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def exercise_presenter(viewer: ViewerDep, media: MediaSignerDep) -> ExercisePresenter:
    return ExercisePresenter(viewer, media.sign)


PresenterDep = Annotated[ExercisePresenter, Depends(exercise_presenter)]
