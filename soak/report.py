"""The figures and the verdict, as a plain table on stdout."""

from __future__ import annotations

from soak.checks import Check, Outcome
from soak.config import SoakConfig
from soak.record import Ledger
from soak.state import DatabaseState


def report_lines(
    config: SoakConfig,
    ledger: Ledger,
    state: DatabaseState,
    outcome: Outcome,
    checks: list[Check],
) -> list[str]:
    where = config.bench().database_label
    lines = [
        "",
        f"soak on {config.kind} ({where}): {config.connections} connections, "
        f"{config.members} members, SIGKILL halfway through the crash round",
        "",
        f"{'round':<8} {'seconds':>8} {'answers':>9} {'answers/s':>10} {'2xx/3xx':>9} "
        f"{'4xx':>6} {'5xx':>5} {'no answer':>10}",
    ]
    lines += [
        f"{r.name:<8} {r.seconds:>8.1f} {r.answered:>9,} {r.per_second:>10,.0f} {r.ok:>9,} "
        f"{r.client_errors:>6,} {r.server_errors:>5,} {r.no_answer:>10,}"
        for r in outcome.rounds
    ]
    acked = ledger.acknowledged_sessions
    found = sum(
        1
        for sid, history in ledger.sessions.items()
        if history.acknowledged and sid in state.sessions
    )
    advances = sum(h.acked_advances for h in ledger.stages.values())
    resets = sum(h.acked_resets for h in ledger.stages.values())
    lines += [
        "",
        f"sessions acknowledged {acked:,}, found {found:,}, stored {len(state.sessions):,} "
        f"(entries {sum(state.sessions.values()):,}); duplicate ids {state.duplicate_session_ids}, "
        f"duplicate entries {state.duplicate_entries}",
        f"advances acknowledged {advances:,}, clinician resets acknowledged {resets:,}",
        f"outbox rows {state.outbox_rows:,} (delivered {state.outbox_delivered:,}); "
        f"webhook posts received {outcome.webhook_posts:,}",
        "",
    ]
    lines += [f"  {'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in checks]
    return lines
