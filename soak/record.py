"""The client's own record of its writes, and what it lets us expect of the database.

The load process appends one JSON line per write *before* sending it
(`sent`) and one when the server acknowledged it with a 2xx (`ack`). After
the crash, what the server acknowledged must be there; what was only sent
(in flight at the kill) may be there or not, but only whole.

Every member is driven by exactly one load worker, so each member's lines
are in the order the writes happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

Phase = Literal["sent", "ack"]
StageAction = Literal["advance", "reset"]


class Recorder:
    """Appends lines to the record file, flushed at once: the line survives whatever follows."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def write(self, line: dict[str, Any]) -> None:
        self._handle.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._handle.flush()

    def session(
        self,
        phase: Phase,
        *,
        session_id: str,
        user_id: int,
        version: int,
        entries: int,
        pain: int,
        emits: bool = False,
        body: dict[str, Any] | None = None,
    ) -> None:
        """`emits`: an acknowledged write that must have queued a `session.logged` event.
        `body` goes with a sent line so a write lost in the crash can be retried."""
        line = {
            "op": "session",
            "phase": phase,
            "id": session_id,
            "user_id": user_id,
            "version": version,
            "entries": entries,
            "pain": pain,
            "emits": emits,
        }
        self.write(line | ({"body": body} if body is not None else {}))

    def stage(self, phase: Phase, *, user_id: int, program: str, action: StageAction) -> None:
        self.write(
            {
                "op": "stage",
                "phase": phase,
                "user_id": user_id,
                "program": program,
                "action": action,
            }
        )


def read_lines(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every line of every record file, in file order (a torn last line is skipped)."""
    for path in paths:
        if not path.exists():
            continue
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                continue  # the load process was stopped mid-line: that write was never sent


@dataclass(frozen=True, slots=True)
class Version:
    """One body sent for a session id: how many entries it had and its worst pain."""

    number: int
    entries: int
    pain: int


@dataclass(slots=True)
class SessionHistory:
    user_id: int
    sent: list[Version] = field(default_factory=list)
    acked: list[Version] = field(default_factory=list)
    emitting_acks: int = 0  # acknowledged creations/replacements: each queued session.logged
    painful_acks: int = 0  # ... of which at or above the pain limit: each queued pain.reported

    @property
    def acknowledged(self) -> bool:
        return bool(self.acked)

    def allowed_entry_counts(self) -> set[int]:
        """What the stored session may hold: the last acknowledged body or any sent after it."""
        if not self.acked:
            return {version.entries for version in self.sent}
        last = max(version.number for version in self.acked)
        later = {version.entries for version in self.sent if version.number > last}
        last_entries = {version.entries for version in self.acked if version.number == last}
        return last_entries | later


@dataclass(slots=True)
class StageHistory:
    """One member's advance/reset cycle in one program, in order."""

    acked_advances: int = 0
    acked_resets: int = 0
    completed_after_ack: bool | None = None  # None: nothing acknowledged yet (not completed)
    completed_if_in_flight: set[bool] = field(default_factory=set)

    def allowed_completed(self) -> set[bool]:
        """Completed or not: after the last acknowledged write, or after one still in flight."""
        settled = bool(self.completed_after_ack)
        return {settled} | self.completed_if_in_flight


@dataclass(slots=True)
class Ledger:
    sessions: dict[str, SessionHistory] = field(default_factory=dict)
    stages: dict[tuple[int, str], StageHistory] = field(default_factory=dict)

    @property
    def acknowledged_sessions(self) -> int:
        return sum(1 for history in self.sessions.values() if history.acknowledged)

    @property
    def acknowledged_stage_writes(self) -> int:
        return sum(h.acked_advances + h.acked_resets for h in self.stages.values())


def build_ledger(lines: Iterable[dict[str, Any]], *, pain_limit: int) -> Ledger:
    ledger = Ledger()
    for line in lines:
        if line.get("op") == "session":
            _add_session(ledger, line, pain_limit)
        elif line.get("op") == "stage":
            _add_stage(ledger, line)
    return ledger


def _add_session(ledger: Ledger, line: dict[str, Any], pain_limit: int) -> None:
    history = ledger.sessions.setdefault(line["id"], SessionHistory(user_id=line["user_id"]))
    version = Version(line["version"], line["entries"], line["pain"])
    if line["phase"] == "sent":
        history.sent.append(version)
        return
    history.acked.append(version)
    if line.get("emits"):
        history.emitting_acks += 1
        history.painful_acks += 1 if version.pain >= pain_limit else 0


def _add_stage(ledger: Ledger, line: dict[str, Any]) -> None:
    history = ledger.stages.setdefault((line["user_id"], line["program"]), StageHistory())
    completes = line["action"] == "advance"
    if line["phase"] == "sent":
        history.completed_if_in_flight.add(completes)
        return
    history.completed_if_in_flight.clear()  # acknowledged: no longer in flight
    history.completed_after_ack = completes
    if completes:
        history.acked_advances += 1
    else:
        history.acked_resets += 1


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """The last body sent for a session whose answer never came (in flight at the kill)."""

    session_id: str
    user_id: int
    version: int
    body: dict[str, Any]


def unconfirmed_writes(lines: Iterable[dict[str, Any]]) -> list[Unconfirmed]:
    """Sessions whose newest sent version was never acknowledged: what a phone would retry."""
    last_sent: dict[str, dict[str, Any]] = {}
    last_acked: dict[str, int] = {}
    for line in lines:
        if line.get("op") != "session":
            continue
        if line["phase"] == "sent":
            last_sent[line["id"]] = line
        else:
            last_acked[line["id"]] = max(line["version"], last_acked.get(line["id"], 0))
    return [
        Unconfirmed(sid, line["user_id"], line["version"], line["body"])
        for sid, line in last_sent.items()
        if line["version"] > last_acked.get(sid, 0) and "body" in line
    ]
