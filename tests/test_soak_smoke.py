"""The soak's own verdict: a write the server acknowledged and then lost must fail it,
while a write whose answer the crash swallowed may be there or not, but only whole."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from soak.checks import (
    Check,
    check_answers,
    check_session_events,
    check_sessions,
    check_stages,
    round_figures,
)
from soak.record import Ledger, Recorder, build_ledger, unconfirmed_writes
from soak.state import DatabaseState

PROGRAM = "piriformis-syndrome-exercises"


class Record:
    """Lines as the load process writes them, read back as the checker reads them."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.recorder = Recorder(self.buffer)

    def session(
        self, phase: str, session_id: str, *, version: int = 1, entries: int = 2, **extra: Any
    ) -> Record:
        self.recorder.session(
            "ack" if phase == "ack" else "sent",
            session_id=session_id,
            user_id=7,
            version=version,
            entries=entries,
            pain=extra.pop("pain", 1),
            emits=extra.pop("emits", phase == "ack"),
            body=extra.pop("body", {"entries": [{}] * entries} if phase == "sent" else None),
        )
        return self

    def stage(self, phase: str, action: str) -> Record:
        self.recorder.stage(
            "ack" if phase == "ack" else "sent",
            user_id=7,
            program=PROGRAM,
            action="advance" if action == "advance" else "reset",
        )
        return self

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines()]

    def ledger(self) -> Ledger:
        return build_ledger(self.lines(), pain_limit=5)


def failed(checks: list[Check]) -> list[str]:
    return [check.name for check in checks if not check.passed]


@pytest.fixture
def record() -> Record:
    return Record()


def test_an_acknowledged_session_missing_after_the_crash_fails_the_soak(record: Record) -> None:
    ledger = record.session("sent", "a").session("ack", "a").ledger()

    assert failed(check_sessions(ledger, DatabaseState())) == [
        "every acknowledged session is stored"
    ]


def test_a_session_in_flight_at_the_kill_may_be_absent(record: Record) -> None:
    ledger = record.session("sent", "a").ledger()

    assert failed(check_sessions(ledger, DatabaseState())) == []


def test_a_half_written_session_fails_even_when_its_answer_was_lost(record: Record) -> None:
    ledger = record.session("sent", "a", entries=3).ledger()

    assert failed(check_sessions(ledger, DatabaseState(sessions={"a": 1}))) == [
        "every stored session is whole (entries of one version sent)"
    ]


def test_a_replacement_in_flight_may_have_won_but_an_older_body_may_not(record: Record) -> None:
    record.session("sent", "a", entries=1).session("ack", "a", entries=1)
    record.session("sent", "a", version=2, entries=2).session("ack", "a", version=2, entries=2)
    ledger = record.session("sent", "a", version=3, entries=3).ledger()

    assert failed(check_sessions(ledger, DatabaseState(sessions={"a": 3}))) == []
    assert failed(check_sessions(ledger, DatabaseState(sessions={"a": 1}))) != []


def test_a_session_nobody_sent_or_a_duplicate_entry_fails(record: Record) -> None:
    ledger = record.session("sent", "a").session("ack", "a").ledger()
    state = DatabaseState(sessions={"a": 2, "b": 2}, duplicate_entries=1)

    assert failed(check_sessions(ledger, state)) == [
        "every stored session is whole (entries of one version sent)",
        "no duplicate sessions or entries",
    ]


def test_a_lost_outbox_row_fails_and_a_painful_session_needs_its_own(record: Record) -> None:
    ledger = record.session("sent", "a", pain=6).session("ack", "a", pain=6).ledger()
    logged_only = DatabaseState()
    logged_only.session_events[("session.logged", "a")] = 1

    assert failed(check_session_events(ledger, logged_only)) == [
        "outbox: session.logged and pain.reported for every acknowledged write"
    ]
    logged_only.session_events[("pain.reported", "a")] = 1
    assert failed(check_session_events(ledger, logged_only)) == []


def test_an_identical_replay_needs_no_event(record: Record) -> None:
    record.session("sent", "a").session("ack", "a", emits=False)

    assert failed(check_session_events(record.ledger(), DatabaseState())) == []


def test_an_acknowledged_advance_must_leave_the_enrollment_completed(record: Record) -> None:
    ledger = record.stage("sent", "advance").stage("ack", "advance").ledger()
    state = DatabaseState(completed={(7, PROGRAM): False})
    state.stage_changes[(7, PROGRAM, "completed")] = 1
    state.stage_events[(7, PROGRAM, "rule")] = 1

    assert failed(check_stages(ledger, state)) == [
        "enrollments: state of the last acknowledged advance/reset (or one in flight)"
    ]


def test_a_reset_in_flight_at_the_kill_may_have_happened(record: Record) -> None:
    ledger = record.stage("sent", "advance").stage("ack", "advance").stage("sent", "reset").ledger()
    state = DatabaseState(completed={(7, PROGRAM): False})
    state.stage_changes[(7, PROGRAM, "completed")] = 1
    state.stage_events[(7, PROGRAM, "rule")] = 1

    assert failed(check_stages(ledger, state)) == []


def test_an_advance_without_its_history_row_and_event_fails(record: Record) -> None:
    ledger = record.stage("sent", "advance").stage("ack", "advance").ledger()
    state = DatabaseState(completed={(7, PROGRAM): True})

    assert failed(check_stages(ledger, state)) == [
        "stage history: a row for every acknowledged advance and reset",
        "outbox: stage.advanced for every acknowledged advance and reset",
    ]


def test_only_a_conflict_on_advance_is_an_expected_client_error() -> None:
    figures = round_figures(
        {
            "round": "steady",
            "seconds": 2.0,
            "by_action": {"advance": {"200": 3, "409": 2}, "put_new": {"201": 4, "422": 1}},
            "transport_errors": {"sync": 1},
        }
    )

    assert (figures.answered, figures.client_errors, figures.no_answer) == (10, 3, 1)
    assert figures.unexpected == {"put_new 422": 1}


def test_five_hundreds_are_counted() -> None:
    figures = round_figures(
        {
            "round": "crash",
            "seconds": 1.0,
            "by_action": {"sync": {"503": 2}},
            "transport_errors": {},
        }
    )

    assert figures.server_errors == 2


def test_only_writes_whose_answer_was_lost_are_retried(record: Record) -> None:
    record.session("sent", "done").session("ack", "done")
    record.session("sent", "lost", body={"entries": [{"pain": 1}]})
    record.session("sent", "done", version=2, body={"entries": []})

    retried = {(w.session_id, w.version) for w in unconfirmed_writes(record.lines())}

    assert retried == {("lost", 1), ("done", 2)}


def test_a_request_left_unanswered_outside_the_crash_fails_the_soak() -> None:
    def round_with(name: str, no_answer: int) -> dict[str, Any]:
        return {
            "round": name,
            "seconds": 1.0,
            "by_action": {"put_new": {"201": 5}},
            "transport_errors": {"put_new": no_answer},
        }

    rounds = [round_figures(round_with("steady", 1)), round_figures(round_with("crash", 9))]
    checks = check_answers(rounds, rejected_items=0, ready_after_restart=True)

    assert failed(checks) == ["every request answered, but those cut off by the kill"]
