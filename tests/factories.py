"""Small, explicit content for tests that need to control the catalogue's shape."""

from __future__ import annotations

from typing import Any

from app.catalog.schemas import ContentBundle


def exercise(slug: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "slug": slug,
        "name": slug.replace("-", " ").title(),
        "summary": f"Summary of {slug}.",
        "thumbnail": f"thumbnails/{slug}.jpg",
        "video": f"videos/{slug}.mp4",
        "body_regions": ["hip"],
        "muscles": ["glutes"],
        "equipment": ["mat"],
        "difficulty": "beginner",
        "instructions": [f"Do {slug} slowly.", "Breathe out as you move."],
        "cues": ["Keep the pelvis level."],
        "mistakes": ["Rushing the movement."],
        "precautions": ["Stop if pain is sharp."],
    }
    return values | overrides


def condition(slug: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "slug": slug,
        "name": slug.replace("-", " ").title(),
        "body_region": "hip",
        "summary": f"Summary of {slug}.",
        "description": f"What {slug} is.",
        "symptoms": ["Stiffness"],
        "causes": ["Sitting"],
        "disclaimer": "General information only; see a health professional.",
    }
    return values | overrides


def program(
    slug: str, conditions: list[str], stages: list[list[str]], **overrides: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "slug": slug,
        "name": slug.replace("-", " ").title(),
        "description": f"The {slug} program.",
        "conditions": conditions,
        "stages": [
            {
                "position": position,
                "name": f"Stage {position}",
                "guidance": "Do these until they are easy.",
                "rule": {"min_days": 7, "min_sessions": 3, "all_exercises_easy": True},
                "exercises": [{"exercise": slug_, "sets": 2, "reps": 10} for slug_ in stage],
            }
            for position, stage in enumerate(stages, start=1)
        ],
    }
    return values | overrides


def sized_catalogue(n: int) -> ContentBundle:
    """A catalogue with `n` conditions, `n` programs of 2 stages and `4n` exercises."""
    exercises = [exercise(f"ex-{i}") for i in range(4 * n)]
    conditions = [
        condition(f"cond-{i}", related=[f"cond-{(i + 1) % n}"] if n > 1 else []) for i in range(n)
    ]
    programs = [
        program(
            f"prog-{i}",
            [f"cond-{i}"],
            [[f"ex-{4 * i}", f"ex-{4 * i + 1}"], [f"ex-{4 * i + 2}", f"ex-{4 * i + 3}"]],
        )
        for i in range(n)
    ]
    return ContentBundle.model_validate(
        {"conditions": conditions, "exercises": exercises, "programs": programs}
    )
