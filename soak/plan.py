"""What the load process is told: where the server is, who acts, and for how long.

The orchestrator writes it as JSON; the load process (a second Python
process, so the server's death cannot take the client's record with it)
reads it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SESSION_PROGRAM = "whole-leg-rehabilitation"  # sessions are logged here, at stage 1
ADVANCE_PROGRAM = "piriformis-syndrome-exercises"  # one stage, no time rule: advance completes
CATALOGUE_PATHS = (
    "/v1/programs/whole-leg-rehabilitation",
    "/v1/exercises?limit=20&q=stretch",
    "/v1/conditions?region=hip",
    "/v1/exercises/clamshell",
)


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-up member linked to the clinic; exactly one load worker acts as them."""

    user_id: int
    email: str
    token: str


@dataclass(frozen=True, slots=True)
class Plan:
    base_url: str
    clinic_id: int
    clinician_token: str
    members: list[Member]
    stage1_exercises: list[str]
    connections: int
    seconds: float
    round_name: str
    record_file: str
    summary_file: str
    pain_limit: int = 5
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> Plan:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["members"] = [Member(**member) for member in raw["members"]]
        return cls(**raw)
