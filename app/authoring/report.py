"""What applying content did, and why content was refused."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import ConflictError, InvalidInputError


@dataclass
class ContentReport:
    """What applying a bundle did, per kind: slugs created and updated, count unchanged."""

    created: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    updated: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def record(self, kind: str, slug: str, outcome: str) -> None:
        if outcome == "created":
            self.created[kind].append(slug)
        elif outcome == "updated":
            self.updated[kind].append(slug)
        else:
            self.unchanged[kind] += 1

    def summary(self) -> str:
        kinds = ("exercise", "condition", "program")
        parts = [
            f"{kind}s: {len(self.created[kind])} created, {len(self.updated[kind])} updated, "
            f"{self.unchanged[kind]} unchanged"
            for kind in kinds
        ]
        return "; ".join(parts)


class ContentError(InvalidInputError):
    """Content that would leave the catalogue broken; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the content; nothing was written.",
            extra={"problems": problems},
        )
        self.problems = problems

    def __str__(self) -> str:
        return "\n  - ".join([self.detail, *self.problems])


class ContentConflictError(ConflictError):
    """A change that would break what people or other content rely on; nothing was written.

    `problems` says what is in the way in words; the extra members (`enrollments`,
    `programs`, ...) name the rows, so a client can show or act on them.
    """

    def __init__(self, problems: list[str], **named: Any) -> None:
        super().__init__(
            f"{len(problems)} conflict(s) with content in use; nothing was written.",
            extra={"problems": problems, **named},
        )
        self.problems = problems
