"""`python -m bench [--strict]`: build the data, serve, measure, judge, report.

Exit status: 0 when the run completed (targets met or not: MISSED is printed),
1 with --strict when any target was missed, 2 when the run itself failed.
Both servers are stopped on every way out, errors and Ctrl+C included.
"""

from __future__ import annotations

import argparse
import secrets
import signal
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bench.config import BenchConfig
from bench.console import elapsed, log
from bench.database import command_env, server_version
from bench.dataset import Dataset, build_dataset, count_sessions
from bench.report import (
    Check,
    Row,
    Run,
    as_json,
    header_lines,
    judge,
    legend_lines,
    machine,
    memory_check,
    missed_lines,
    spread_line,
    table_lines,
    write_json,
)
from bench.scenarios import (
    MAIN,
    REF,
    TENFOLD,
    TWO_INSTANCES,
    Scenario,
    Target,
    Who,
    sign_in,
    target_for,
)
from bench.servers import (
    RssSampler,
    Server,
    code_fingerprint,
    free_port,
    logged_errors,
    uvicorn_command,
    wait_until_idle,
)
from bench.tenfold import grow_catalogue
from bench.wrk import WrkResult, ensure_wrk, run_wrk_together, wrk_version

# Production settings, plus room for the bench's own sign-ins and a long run.
API_SETTINGS = {
    "ENVIRONMENT": "production",
    "ACCESS_TOKEN_MINUTES": "60",
    "LOGIN_RATE_PER_ACCOUNT": "1000/minute",
    "LOGIN_RATE_PER_ADDRESS": "1000/minute",
    "REGISTER_RATE_PER_ADDRESS": "1000/hour",
}


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        missed = run(BenchConfig.from_env())
    except (RuntimeError, OSError, SQLAlchemyError) as exc:  # WrkError is a RuntimeError
        log(f"the benchmark could not run: {exc}")
        return 2
    return 1 if args.strict and missed else 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any target is missed (for CI)"
    )
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, which stops the servers


def run(config: BenchConfig) -> list[str]:
    """The whole benchmark; returns the missed targets (empty when all were met)."""
    wrk = ensure_wrk(log)
    info = _run_info(config, wrk)
    print("\n".join(header_lines(info)), flush=True)
    dataset = build_dataset(config, log)
    info["dataset"] = _dataset_json(dataset)
    bench = Bench(config, wrk, dataset)
    bench.measure_all()
    return _report(config, bench, info)


def _run_info(config: BenchConfig, wrk: str) -> dict[str, Any]:
    return {
        "machine": machine(wrk_version(wrk)),
        "database": {
            "kind": config.kind,
            "where": config.database_label,
            "version": server_version(config),
        },
        "settings": {
            "threads": 1,
            "connections": config.connections,
            "seconds": config.seconds,
            "warmup_seconds": config.warmup_seconds,
            "rounds": config.rounds,
            "uvicorn_workers": 1,
        },
    }


def _report(config: BenchConfig, bench: Bench, info: dict[str, Any]) -> list[str]:
    """Judge the runs, print the table and write the JSON; the missed targets."""
    rows = bench.rows()
    judge(rows, bench.problems, config.kind)
    peak = bench.peak_rss_kib(TENFOLD)
    memory = memory_check(peak) if peak else None
    missed = missed_lines(rows, memory)
    info["duration_seconds"] = round(elapsed(), 1)
    info["api_logged_errors"] = logged_errors(bench.api_log)
    info["app_code_changed_during_run"] = bench.code_changed
    _print_report(config, rows, memory, missed)
    if bench.code_changed:
        print(
            "\nwarning: files under app/ changed while the benchmark ran: the API restarted for "
            "S6 with other code than S1-S5 ran, so S6 does not compare with S1/S2; run it again."
        )
    _print_logged_errors(config, info["api_logged_errors"], bench.api_log)
    write_json(config.results_file, as_json(info, rows, memory))
    print(f"\nwrote {config.results_file.relative_to(config.root)}; took {elapsed():.0f} s")
    return missed


def _dataset_json(dataset: Dataset) -> dict[str, Any]:
    return {
        "library": dataset.library,
        "rows": dataset.rows,
        "build_seconds": dataset.seconds,
        "reader": dataset.reader.email,
        "writer": dataset.writer.email,
    }


def _print_report(
    config: BenchConfig, rows: list[Row], memory: Check | None, missed: list[str]
) -> None:
    print(
        f"\nwrk -t1 -c{config.connections} -d{config.seconds}s after a {config.warmup_seconds} s "
        f"warm-up; medians of {config.rounds} rounds; ratio = requests/s / REF requests/s\n"
    )
    print("\n".join(table_lines(rows, memory)))
    print(spread_line(rows))
    print("\n" + "\n".join(legend_lines(rows)))
    print("\n" + ("\n".join(missed) if missed else "All targets met."), flush=True)


def _print_logged_errors(config: BenchConfig, errors: dict[str, int], log_file: Path) -> None:
    if not errors:
        return
    where = log_file.relative_to(config.root)
    print(f"\nexception lines in {where} (one failure shows up several times: its chained")
    print("causes, and both the app and uvicorn log it; wrk's error count is the real one):")
    for line, count in list(errors.items())[:5]:
        print(f"  {count:>6} x {line}")


@dataclass
class Bench:
    """The two servers and every measured run."""

    config: BenchConfig
    wrk: str
    dataset: Dataset
    runs: list[Run] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    requests: dict[str, str] = field(default_factory=dict)
    code_versions: list[str] = field(default_factory=list)

    @property
    def code_changed(self) -> bool:
        """Whether app/ changed between API starts (S6 then ran other code than S1-S5)."""
        return len(set(self.code_versions)) > 1

    @property
    def api_log(self) -> Path:
        return self.config.var_dir / "api.log"

    def measure_all(self) -> None:
        """Main scenarios, then S6 after growing the catalogue while the API is down."""
        secret = secrets.token_urlsafe(48)
        for stale in ("api.log", "reference.log"):
            (self.config.var_dir / stale).unlink(missing_ok=True)
        with ExitStack() as stack:
            reference = stack.enter_context(self._server("reference", "bench.reference:app", {}))
            api_env = API_SETTINGS | {"SECRET_KEY": secret}
            api = stack.enter_context(self._server("api", "app.main:create_app", api_env))
            reference.start("/")
            self._start_api(api)
            log(f"reference on {reference.base_url}, API on {api.base_url}")
            self._rounds(MAIN, reference, api)
            if self.config.kind == "postgresql":
                second = stack.enter_context(self._server("api2", "app.main:create_app", api_env))
                second.start("/readyz")
                log(f"a second API instance on {second.base_url}, the same database")
                self._rounds(TWO_INSTANCES, reference, api, second)
                second.stop()
            api.stop()
            log(f"catalogue x{self.config.copies}: {grow_catalogue(self.config)}")
            self._start_api(api)
            self._rounds(TENFOLD, reference, api)

    def _start_api(self, api: Server) -> None:
        self.code_versions.append(code_fingerprint(self.config.root / "app"))
        api.start("/readyz")
        if self.code_changed:
            log("warning: app/ changed since the API was first started")

    def _server(self, name: str, target: str, settings: dict[str, str]) -> Server:
        port = free_port()
        return Server(
            name,
            uvicorn_command(target, port, factory=target.endswith(":create_app")),
            port=port,
            env=command_env(self.config, **settings),
            cwd=self.config.root,
            log=self.config.var_dir / f"{name}.log",  # api.log: see `api_log`
        )

    def _rounds(
        self,
        scenarios: tuple[Scenario, ...],
        reference: Server,
        api: Server,
        second: Server | None = None,
    ) -> None:
        """Each round measures REF, then every scenario: drift hits all of them alike."""
        tokens: dict[Who, str] = {
            "reader": sign_in(api.base_url, self.dataset.reader),
            "writer": sign_in(api.base_url, self.dataset.writer),
        }
        # Through the second instance, another person writes (its own sign-in there).
        second_tokens: dict[Who, str] = {}
        if second is not None:
            second_tokens = tokens | {"writer": sign_in(second.base_url, self.dataset.other_writer)}
        everyone = (reference, api) if second is None else (reference, api, second)
        for number in range(1, self.config.rounds + 1):
            for scenario in (REF, *scenarios):
                if scenario.server == "reference":
                    targets = [target_for(scenario, reference.base_url, self.dataset, tokens)]
                else:
                    targets = [target_for(scenario, api.base_url, self.dataset, tokens)]
                if scenario.instances == 2 and second is not None:
                    targets.append(
                        target_for(scenario, second.base_url, self.dataset, second_tokens)
                    )
                server = reference if scenario.server == "reference" else api
                self.runs.append(self._measure(targets, server, number, everyone))

    def _measure(
        self, targets: list[Target], server: Server, number: int, everyone: tuple[Server, ...]
    ) -> Run:
        key = targets[0].scenario.key
        self.requests.setdefault(key, self._describe(targets[0]))
        for target in targets:
            problem = target.probe()
            if problem is not None:
                log(f"{key}: {problem}")
                self.problems.setdefault(key, problem)
        connections = self.config.connections
        loads = [target.load for target in targets]
        self._settle(key, everyone)
        run_wrk_together(
            self.wrk, loads, seconds=self.config.warmup_seconds, connections=connections
        )
        self._settle(key, everyone)
        stored_before = count_sessions(self.config) if targets[0].scenario.writes else 0
        with RssSampler(server.pid) as memory:
            result = run_wrk_together(
                self.wrk, loads, seconds=self.config.seconds, connections=connections
            )
        if targets[0].scenario.writes:
            self._check_new_sessions(key, result, count_sessions(self.config) - stored_before)
        log(
            f"round {number} {key:<8} {result.requests_per_second:>9,.0f} req/s  "
            f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
            f"errors {result.errors}  rss {memory.peak_kib / 1024:.0f} MiB"
        )
        rss = memory.peak_kib if server.name == "api" else None
        return Run(key, number, result, rss)

    def _check_new_sessions(self, key: str, result: WrkResult, stored: int) -> None:
        """A write scenario measures new sessions: every answered request stored one (the
        server may also finish requests wrk gave up on, so more is fine). Fewer means ids
        were sent again, and replays, not writes, were measured."""
        if stored < result.requests:
            problem = f"{result.requests - stored} of {result.requests} requests stored no session"
            log(f"{key}: {problem}")
            self.problems.setdefault(key, problem)

    def _settle(self, key: str, servers: tuple[Server, ...]) -> None:
        """Start every run from a quiet machine: the API may still be busy with old requests,
        which would take CPU from whichever server is measured next."""
        for server in servers:
            waited = wait_until_idle(server.pid)
            if waited > 2:
                log(f"{key}: waited {waited:.0f} s for the {server.name} server to go idle")

    def _describe(self, target: Target) -> str:
        scenario = target.scenario
        path = scenario.path_for(self.dataset) + ("<new uuid4>" if scenario.writes else "")
        who = {
            "anonymous": "anonymous",
            "reader": f"as {self.dataset.reader.email} (stage {self.dataset.reader.stage})",
            "writer": f"as {self.dataset.writer.email}, body from put_session.lua",
        }[scenario.who]
        if scenario.instances == 2:
            who += ", half the connections to each of two instances"
            if scenario.writes:
                who += f" (as {self.dataset.other_writer.email} through the second)"
        return f"{target.method} {path} {who}"

    def rows(self) -> list[Row]:
        keys = list(dict.fromkeys(run.scenario for run in self.runs))
        scenarios = {s.key: s for s in (REF, *MAIN, *TWO_INSTANCES, *TENFOLD)}
        return [
            Row(scenarios[key], self.requests[key], [r for r in self.runs if r.scenario == key])
            for key in keys
        ]

    def peak_rss_kib(self, scenarios: tuple[Scenario, ...]) -> int:
        keys = {s.key for s in scenarios}
        return max((r.rss_kib or 0 for r in self.runs if r.scenario in keys), default=0)
