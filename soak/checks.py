"""The verdict: the client's record against the database and the answers it got.

Pure functions of a `Ledger` (what the client sent and saw acknowledged), a
`DatabaseState` (what is stored after the crash) and the load summaries, so
the checking logic is tested on its own without a server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from soak.record import Ledger
from soak.state import DatabaseState

EXPECTED_CONFLICTS = {("advance", 409)}  # advancing an enrollment a previous round completed
SHOWN = 3  # examples quoted in a failed check's detail


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class RoundFigures:
    """One load round's answers: by status class, and requests that got no answer at all."""

    name: str
    seconds: float
    answered: int
    ok: int
    client_errors: int
    server_errors: int
    no_answer: int
    unexpected: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


@dataclass
class Outcome:
    """What the rounds saw from the client's side; the database is read afterwards."""

    rounds: list[RoundFigures] = field(default_factory=list)
    rejected_items: int = 0
    ready_after_restart: bool = False
    retried: int = 0
    webhook_posts: int = 0


def round_figures(summary: dict[str, Any]) -> RoundFigures:
    counts = {"ok": 0, "4xx": 0, "5xx": 0}
    unexpected: dict[str, int] = {}
    for action, statuses in summary["by_action"].items():
        for status_text, count in statuses.items():
            status = int(status_text)
            kind = "5xx" if status >= 500 else "4xx" if status >= 400 else "ok"
            counts[kind] += count
            if status >= 400 and (action, status) not in EXPECTED_CONFLICTS:
                unexpected[f"{action} {status}"] = count
    return RoundFigures(
        name=summary["round"],
        seconds=float(summary["seconds"]),
        answered=sum(counts.values()),
        ok=counts["ok"],
        client_errors=counts["4xx"],
        server_errors=counts["5xx"],
        no_answer=sum(summary["transport_errors"].values()),
        unexpected=unexpected,
    )


def _examples(items: Iterable[str]) -> str:
    listed = sorted(items)
    more = f" (+{len(listed) - SHOWN} more)" if len(listed) > SHOWN else ""
    return ", ".join(listed[:SHOWN]) + more


def _check(name: str, failures: list[str], ok_detail: str) -> Check:
    if failures:
        return Check(name, False, f"{len(failures)}: {_examples(failures)}")
    return Check(name, True, ok_detail)


def check_sessions(ledger: Ledger, state: DatabaseState) -> list[Check]:
    acked = {sid for sid, history in ledger.sessions.items() if history.acknowledged}
    missing = [sid for sid in acked if sid not in state.sessions]
    phantom = [sid for sid in state.sessions if sid not in ledger.sessions]
    partial = [
        f"{sid} has {count} entries, expected one of {sorted(history.allowed_entry_counts())}"
        for sid, count in state.sessions.items()
        if (history := ledger.sessions.get(sid)) is not None
        and count not in history.allowed_entry_counts()
    ]
    duplicates = state.duplicate_session_ids + state.duplicate_entries
    return [
        _check(
            "every acknowledged session is stored",
            missing,
            f"{len(acked):,} of {len(acked):,} found",
        ),
        _check(
            "every stored session is whole (entries of one version sent)",
            partial + [f"{sid} was never sent" for sid in phantom],
            f"{len(state.sessions):,} sessions checked",
        ),
        Check(
            "no duplicate sessions or entries",
            duplicates == 0 and state.deleted_sessions == 0,
            f"{state.duplicate_session_ids} duplicate ids, {state.duplicate_entries} duplicate "
            f"entries, {state.deleted_sessions} deleted",
        ),
    ]


def check_session_events(ledger: Ledger, state: DatabaseState) -> list[Check]:
    lost: list[str] = []
    extra: list[str] = []
    expected = 0
    for sid, history in ledger.sessions.items():
        logged = state.session_events[("session.logged", sid)]
        painful = state.session_events[("pain.reported", sid)]
        expected += history.emitting_acks + history.painful_acks
        if logged < history.emitting_acks:
            lost.append(f"session.logged {sid}: {logged} of {history.emitting_acks}")
        if painful < history.painful_acks:
            lost.append(f"pain.reported {sid}: {painful} of {history.painful_acks}")
        if logged > len(history.sent):
            extra.append(f"session.logged {sid}: {logged} rows for {len(history.sent)} writes")
    return [
        _check(
            "outbox: session.logged and pain.reported for every acknowledged write",
            lost,
            f"{expected:,} expected events found",
        ),
        _check("outbox: no event written twice", extra, "none"),
    ]


def check_stages(ledger: Ledger, state: DatabaseState) -> list[Check]:
    wrong: list[str] = []
    history_lost: list[str] = []
    events_lost: list[str] = []
    for (user_id, program), history in ledger.stages.items():
        where = f"member {user_id} {program}"
        completed = state.completed.get((user_id, program))
        if completed not in history.allowed_completed():
            wrong.append(f"{where}: completed={completed}, expected {history.allowed_completed()}")
        kept = (
            state.stage_changes[(user_id, program, "completed")],
            state.stage_changes[(user_id, program, "clinician")],
        )
        if kept[0] < history.acked_advances or kept[1] < history.acked_resets:
            history_lost.append(
                f"{where}: history {kept}, acknowledged "
                f"{(history.acked_advances, history.acked_resets)}"
            )
        events = (
            state.stage_events[(user_id, program, "rule")],
            state.stage_events[(user_id, program, "clinician")],
        )
        if events[0] < history.acked_advances or events[1] < history.acked_resets:
            events_lost.append(
                f"{where}: events {events}, acknowledged "
                f"{(history.acked_advances, history.acked_resets)}"
            )
    writes = ledger.acknowledged_stage_writes
    return [
        _check(
            "enrollments: state of the last acknowledged advance/reset (or one in flight)",
            wrong,
            f"{len(ledger.stages)} enrollments",
        ),
        _check(
            "stage history: a row for every acknowledged advance and reset",
            history_lost,
            f"{writes:,} writes",
        ),
        _check(
            "outbox: stage.advanced for every acknowledged advance and reset",
            events_lost,
            f"{writes:,} writes",
        ),
    ]


def check_answers(
    rounds: list[RoundFigures], *, rejected_items: int, ready_after_restart: bool
) -> list[Check]:
    server_errors = sum(figures.server_errors for figures in rounds)
    # Only the kill may leave a request without an answer; elsewhere it means the client
    # gave up waiting (REQUEST_TIMEOUT), which a user would see as a failure too.
    unanswered = sum(figures.no_answer for figures in rounds if figures.name != "crash")
    unexpected: dict[str, int] = {}
    for figures in rounds:
        for key, count in figures.unexpected.items():
            unexpected[key] = unexpected.get(key, 0) + count
    return [
        Check("zero 5xx", server_errors == 0, f"{server_errors} server errors"),
        Check(
            "every request answered, but those cut off by the kill",
            unanswered == 0,
            f"{unanswered} without an answer outside the crash",
        ),
        _check(
            "no unexpected 4xx",
            [f"{key} x{count}" for key, count in unexpected.items()],
            "only 409 on advancing a completed enrollment",
        ),
        Check("no valid sync item rejected", rejected_items == 0, f"{rejected_items} rejected"),
        Check("ready after the restart", ready_after_restart, "GET /readyz"),
    ]


def check_database(
    state: DatabaseState, *, kind: str, logged_errors: dict[str, int]
) -> list[Check]:
    checks = [
        _check(
            "the server logged no errors (database is locked, tracebacks)",
            [f"{count} x {line}" for line, count in logged_errors.items()],
            "none",
        )
    ]
    if kind == "sqlite":
        checks.append(Check("PRAGMA integrity_check", state.integrity == "ok", state.integrity))
    return checks
