"""`python -m soak`: serve, set up actors, load, crash, restart, retry, check, report.

For each database: a fresh database (migrated and seeded by the `rehab`
command), the API under uvicorn with production settings, a steady round of
mixed traffic, then a crash round in whose middle the server gets SIGKILL.
After the restart, writes whose answer was lost are sent again (as a phone
would), the server is stopped and the database is compared with the client's
record. Exit status: 0 when every check passed, 1 when one failed, 2 when the
run itself could not be done.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bench.config import DatabaseKind
from bench.console import log
from bench.database import command_env, reset_database
from bench.dataset import rehab
from bench.servers import Server, free_port, logged_errors, uvicorn_command
from soak.actors import Cast, create_admin, set_up
from soak.checks import (
    Check,
    Outcome,
    RoundFigures,
    check_answers,
    check_database,
    check_session_events,
    check_sessions,
    check_stages,
    round_figures,
)
from soak.config import DEFAULT_POSTGRES_URL, SoakConfig, normalise_postgres_url, sqlite_url
from soak.plan import Plan
from soak.receiver import WebhookReceiver
from soak.record import Ledger, Recorder, build_ledger, read_lines, unconfirmed_writes
from soak.report import report_lines
from soak.state import DatabaseState, read_state

# Production settings, with room for the setup's sign-ins and a local webhook receiver.
API_SETTINGS = {
    "ENVIRONMENT": "production",
    "ACCESS_TOKEN_MINUTES": "60",
    "LOGIN_RATE_PER_ACCOUNT": "1000/minute",
    "LOGIN_RATE_PER_ADDRESS": "1000/minute",
    "REGISTER_RATE_PER_ADDRESS": "1000/hour",
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_POLL_SECONDS": "0.5",
    "MAIL_BACKEND": "file",
}
ROUNDS = ("steady", "crash")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    passed = True
    try:
        for config in configs(args):
            passed = run(config) and passed
    except (RuntimeError, OSError, SQLAlchemyError, httpx.HTTPError) as exc:
        log(f"the soak could not run: {exc}")
        return 2
    print("\nsoak: " + ("every check passed" if passed else "FAILED"), flush=True)
    return 0 if passed else 1


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL URL (the database is created if missing and its schema emptied)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="the steady round")
    parser.add_argument("--crash-seconds", type=float, default=20.0, help="the crash round")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument(
        "--short", action="store_true", help="a few seconds per round, for CI (same checks)"
    )
    return parser.parse_args(argv)


def configs(args: argparse.Namespace) -> list[SoakConfig]:
    seconds, crash, connections, members = (
        (3.0, 4.0, 16, 4)
        if args.short
        else (args.seconds, args.crash_seconds, args.connections, args.members)
    )
    if min(seconds, crash) <= 0 or connections < 1 or members < 1:
        raise RuntimeError("seconds, connections and members must be positive")
    urls: dict[DatabaseKind, str] = {
        "sqlite": sqlite_url(),
        "postgresql": normalise_postgres_url(args.database_url),
    }
    return [
        SoakConfig(
            kind=kind,
            database_url=url,
            seconds=seconds,
            crash_seconds=crash,
            connections=connections,
            members=min(members, connections),
        )
        for kind, url in urls.items()
        if args.database in (kind, "both")
    ]


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, which stops the server


def run(config: SoakConfig) -> bool:
    log(f"{config.kind}: fresh database, migrations, seed")
    prepare_database(config)
    for stale in (*config.var_dir.glob("*.jsonl"), *config.mail_dir.glob("*.eml")):
        stale.unlink()
    config.server_log.unlink(missing_ok=True)
    with WebhookReceiver() as receiver, _server(config) as server:
        server.start("/readyz")
        log(f"{config.kind}: API on {server.base_url}; setting up {config.members} members")
        cast = set_up(
            server.base_url,
            members=config.members,
            webhook_url=receiver.url,
            mail_dir=config.mail_dir,
        )
        outcome = _rounds(config, cast, server)
        server.stop()
        outcome.webhook_posts = receiver.posts
    ledger = build_ledger(read_lines(_record_files(config)), pain_limit=cast.pain_limit)
    state = read_state(config.database_url)
    checks = _checks(config, ledger, state, outcome)
    print("\n".join(report_lines(config, ledger, state, outcome, checks)) + "\n", flush=True)
    return all(check.passed for check in checks)


def _rounds(config: SoakConfig, cast: Cast, server: Server) -> Outcome:
    """The steady round; the crash round with its SIGKILL; the restart and the retries."""
    outcome = Outcome()
    steady = _run_load(config, cast, server, "steady", config.seconds)
    outcome.rounds.append(_finish(steady, outcome))
    crash = _run_load(config, cast, server, "crash", config.crash_seconds)
    time.sleep(config.crash_seconds / 2)
    log(f"{config.kind}: SIGKILL to the server (pid {server.pid}) mid-round")
    os.killpg(server.pid, signal.SIGKILL)
    server.stop()  # reaps it
    outcome.rounds.append(_finish(crash, outcome))
    outcome.ready_after_restart = _restart(server)
    if outcome.ready_after_restart:
        outcome.rounds.append(_retry_unconfirmed(config, cast, server, outcome))
    return outcome


def _record_files(config: SoakConfig) -> list[Path]:
    """The rounds' records in the order they ran: a member's writes must stay in order."""
    return [config.var_dir / f"record-{name}.jsonl" for name in (*ROUNDS, "retry")]


def prepare_database(config: SoakConfig) -> None:
    if config.kind == "postgresql":
        _create_postgres_database(config.database_url)
    reset_database(config.bench())
    rehab(config.bench(), "migrate")
    rehab(config.bench(), "seed")
    create_admin(config)


def _create_postgres_database(url: str) -> None:
    """Create the soak's own database when it is missing (the schema is emptied afterwards)."""
    target = make_url(url)
    name = target.database
    if not name:
        raise RuntimeError(f"the PostgreSQL URL names no database: {url!r}")
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                quoted = connection.dialect.identifier_preparer.quote(name)
                connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()


def _server(config: SoakConfig) -> Server:
    port = free_port()
    settings = API_SETTINGS | {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "MAIL_FILE_DIR": str(config.mail_dir),
    }
    return Server(
        "api",
        uvicorn_command("app.main:create_app", port, factory=True),
        port=port,
        env=command_env(config.bench(), **settings),
        cwd=config.root,
        log=config.server_log,
    )


@dataclass
class LoadRun:
    process: subprocess.Popen[bytes]
    summary: Path
    log: Path


def _run_load(config: SoakConfig, cast: Cast, server: Server, name: str, seconds: float) -> LoadRun:
    log(f"{config.kind}: {name} round, {config.connections} connections for {seconds:g} s")
    plan = Plan(
        base_url=server.base_url,
        clinic_id=cast.clinic_id,
        clinician_token=cast.clinician_token,
        members=cast.members,
        stage1_exercises=cast.stage1_exercises,
        connections=config.connections,
        seconds=seconds,
        round_name=name,
        record_file=str(config.var_dir / f"record-{name}.jsonl"),
        summary_file=str(config.var_dir / f"summary-{name}.json"),
        pain_limit=cast.pain_limit,
    )
    plan_file = plan.write(config.var_dir / f"plan-{name}.json")
    load_log = config.var_dir / f"load-{name}.log"
    with load_log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own command line, no shell)
            [sys.executable, "-m", "soak.load", str(plan_file)],
            cwd=config.root,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return LoadRun(process, Path(plan.summary_file), load_log)


def _finish(load: LoadRun, outcome: Outcome) -> RoundFigures:
    if load.process.wait() != 0 or not load.summary.exists():
        raise RuntimeError(f"the load process failed; see {load.log}")
    summary: dict[str, Any] = json.loads(load.summary.read_text(encoding="utf-8"))
    outcome.rejected_items += int(summary["rejected_items"])
    figures = round_figures(summary)
    log(
        f"{figures.name}: {figures.answered:,} answers ({figures.per_second:,.0f}/s), "
        f"{figures.server_errors} 5xx, {figures.no_answer} without an answer"
    )
    return figures


def _restart(server: Server) -> bool:
    try:
        server.start("/readyz")
    except RuntimeError as exc:
        log(f"the server did not come back: {exc}")
        return False
    return True


def _retry_unconfirmed(
    config: SoakConfig, cast: Cast, server: Server, outcome: Outcome
) -> RoundFigures:
    """Send again every session write whose answer the crash swallowed: 201 or 200, once."""
    lines = list(read_lines(_record_files(config)))
    tokens = {member.user_id: member.token for member in cast.members}
    statuses: dict[str, int] = {}
    started = time.monotonic()
    with (
        (config.var_dir / "record-retry.jsonl").open("a", encoding="utf-8") as handle,
        httpx.Client(base_url=server.base_url, timeout=30.0) as client,
    ):
        recorder = Recorder(handle)
        for write in unconfirmed_writes(lines):
            answer = client.put(
                f"/v1/me/sessions/{write.session_id}",
                json=write.body,
                headers={"Authorization": f"Bearer {tokens[write.user_id]}"},
            )
            statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
            if answer.is_success:
                recorder.session(
                    "ack",
                    session_id=write.session_id,
                    user_id=write.user_id,
                    version=write.version,
                    entries=len(write.body["entries"]),
                    pain=max(entry["pain"] for entry in write.body["entries"]),
                    emits=answer.status_code == 201,
                )
    outcome.retried = sum(statuses.values())
    log(f"{config.kind}: retried {outcome.retried} writes whose answer was lost: {statuses}")
    return round_figures(
        {
            "round": "retry",
            "seconds": time.monotonic() - started,
            "by_action": {"retry": statuses},
            "transport_errors": {},
        }
    )


def _checks(
    config: SoakConfig, ledger: Ledger, state: DatabaseState, outcome: Outcome
) -> list[Check]:
    return [
        *check_answers(
            outcome.rounds,
            rejected_items=outcome.rejected_items,
            ready_after_restart=outcome.ready_after_restart,
        ),
        *check_sessions(ledger, state),
        *check_session_events(ledger, state),
        *check_stages(ledger, state),
        *check_database(state, kind=config.kind, logged_errors=logged_errors(config.server_log)),
    ]
