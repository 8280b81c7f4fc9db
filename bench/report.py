"""From wrk runs to the verdict: medians, ratios to the reference, targets, table and JSON.

Medians of three rounds (requests/s, p50 and p99 each on its own) keep one
unlucky run, a GC pause or a noisy neighbour, from deciding the result.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from bench.scenarios import READ_P99_LIMIT_MS, SIZE_TOLERANCE, Scenario
from bench.wrk import WrkResult

RSS_LIMIT_MB = 300.0
BUSY_LOAD_SHARE = 0.5  # a load average above half the CPUs means someone else is working


@dataclass(frozen=True, slots=True)
class Run:
    """One measured wrk run, with the API's peak resident memory during it."""

    scenario: str
    round: int
    result: WrkResult
    rss_kib: int | None = None


@dataclass(frozen=True, slots=True)
class Check:
    label: str
    met: bool
    detail: str


@dataclass(slots=True)
class Row:
    scenario: Scenario
    request: str
    runs: list[Run]
    ratio: float = 0.0
    checks: list[Check] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return median(run.result.requests_per_second for run in self.runs)

    @property
    def p50_ms(self) -> float:
        return median(run.result.p50_ms for run in self.runs)

    @property
    def p99_ms(self) -> float:
        return median(run.result.p99_ms for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.result.errors for run in self.runs)

    @property
    def met(self) -> bool | None:
        return all(check.met for check in self.checks) if self.checks else None

    @property
    def target(self) -> str:
        return ", ".join(check.label for check in self.checks) or "-"


def judge(rows: list[Row], problems: dict[str, str], database_kind: str) -> None:
    """Fill in every row's ratio and checks; `problems`, by scenario, say what showed it
    did not run as meant (a probe that failed, writes that stored nothing new)."""
    by_key = {row.scenario.key: row for row in rows}
    reference = by_key["REF"].rps
    for row in rows:
        row.ratio = row.rps / reference if reference else 0.0
        row.checks = _checks(row, by_key, problems.get(row.scenario.key), database_kind)


def _checks(
    row: Row, by_key: dict[str, Row], problem: str | None, database_kind: str
) -> list[Check]:
    scenario = row.scenario
    checks: list[Check] = []
    floor = scenario.floor(database_kind)
    if floor is not None:
        checks.append(_ratio_check(row, floor))
    if scenario.same_as is not None and scenario.same_as in by_key:
        checks.append(_size_check(row, by_key[scenario.same_as]))
    if scenario.p99_limit_ms is not None:
        checks.append(_p99_check(row, scenario.p99_limit_ms))
    if checks or row.errors:
        checks.append(_errors_check(row))
    stalled = sum(run.result.stalled for run in row.runs)
    if stalled:
        checks.append(Check("answers", False, f"{stalled} run(s) completed no request"))
    if problem is not None:
        checks.append(Check("as meant", False, problem))
    return checks


def _ratio_check(row: Row, floor: float) -> Check:
    met = row.ratio >= floor
    return Check(f">= {floor:.2f} REF", met, f"ratio {row.ratio:.2f} {_cmp(met)} {floor:.2f}")


def _size_check(row: Row, normal: Row) -> Check:
    """S6: the bigger catalogue may cost at most SIZE_TOLERANCE of the normal throughput."""
    share = 1 - SIZE_TOLERANCE
    floor = share * normal.rps
    met = row.rps >= floor
    detail = (
        f"requests/s {row.rps:,.0f} {_cmp(met)} {floor:,.0f} ({share:.2f} x {normal.scenario.key})"
    )
    return Check(f">= {share:.2f} {normal.scenario.key}", met, detail)


def _p99_check(row: Row, limit: float) -> Check:
    met = row.p99_ms <= limit
    detail = f"p99 {row.p99_ms:.1f} ms {'<=' if met else '>'} {limit:.0f} ms"
    return Check(f"p99 <= {limit:.0f} ms", met, detail)


def _errors_check(row: Row) -> Check:
    non_2xx = sum(run.result.non_2xx for run in row.runs)
    detail = f"{non_2xx} non-2xx response(s), {row.errors - non_2xx} socket error(s)/timeout(s)"
    return Check("no errors", row.errors == 0, detail)


def _cmp(met: bool) -> str:
    return ">=" if met else "<"


def memory_check(peak_kib: int) -> Check:
    megabytes = peak_kib * 1024 / 1_000_000
    met = megabytes <= RSS_LIMIT_MB
    return Check(f"<= {RSS_LIMIT_MB:.0f} MB", met, f"RSS {megabytes:.0f} MB")


def machine(wrk_version: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": wrk_version,
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header_lines(info: dict[str, Any]) -> list[str]:
    cpu = info["machine"]
    lines = [
        "Rehab API benchmark",
        f"machine:  nproc {cpu['nproc']} ({cpu['cpu']}), {cpu['kernel']}, "
        f"Python {cpu['python']}, {cpu['wrk']}",
        f"database: {info['database']['kind']} ({info['database']['version']}) "
        f"at {info['database']['where']}",
    ]
    load = cpu["load_average_at_start"][0]
    if load > BUSY_LOAD_SHARE * (cpu["nproc"] or 1):
        lines.append(
            f"warning:  load average {load:.1f} before the run: other work on this machine "
            "lowers the numbers and scatters them (ratios to REF absorb part of it)"
        )
    return lines


def spread_line(rows: list[Row]) -> str:
    """How much REF moved between rounds: a quick read of how noisy the machine was."""
    reference = [
        run.result.requests_per_second
        for row in rows
        if row.scenario.key == "REF"
        for run in row.runs
    ]
    if not reference:
        return ""
    low, high = min(reference), max(reference)
    return (
        f"REF ranged {low:,.0f}-{high:,.0f} requests/s over {len(reference)} runs "
        f"({(high - low) / high:.0%} spread)"
    )


def table_lines(rows: list[Row], memory: Check | None) -> list[str]:
    head = ("scenario", "requests/s", "p50 ms", "p99 ms", "ratio", "errors", "target", "met?")
    body = [
        (
            row.scenario.key,
            f"{row.rps:,.0f}",
            f"{row.p50_ms:.2f}",
            f"{row.p99_ms:.2f}",
            f"{row.ratio:.2f}",
            str(row.errors),
            row.target,
            _verdict(row.met),
        )
        for row in rows
    ]
    if memory is not None:
        body.append(("RSS x10", memory.detail, "", "", "", "", memory.label, _verdict(memory.met)))
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    numeric = {1, 2, 3, 4, 5}
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()
        for line in [head, *body]
    ]


def _verdict(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "MISSED")


def legend_lines(rows: list[Row]) -> list[str]:
    return [f"  {row.scenario.key:<8} {row.scenario.title}: {row.request}" for row in rows]


def missed_lines(rows: list[Row], memory: Check | None) -> list[str]:
    missed = [
        f"MISSED {row.scenario.key}: {check.detail}"
        for row in rows
        for check in row.checks
        if not check.met
    ]
    if memory is not None and not memory.met:
        missed.append(f"MISSED RSS with the x10 catalogue: {memory.detail} > {RSS_LIMIT_MB:.0f} MB")
    return missed


def as_json(info: dict[str, Any], rows: list[Row], memory: Check | None) -> dict[str, Any]:
    return info | {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "read_p99_limit_ms": READ_P99_LIMIT_MS,
        "scenarios": [_row_json(row) for row in rows],
        "memory": None if memory is None else _check_json(memory),
        "missed": missed_lines(rows, memory),
        "all_met": not missed_lines(rows, memory),
    }


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "scenario": row.scenario.key,
        "title": row.scenario.title,
        "request": row.request,
        "requests_per_second": round(row.rps, 1),
        "p50_ms": round(row.p50_ms, 3),
        "p99_ms": round(row.p99_ms, 3),
        "ratio_to_ref": round(row.ratio, 3),
        "errors": row.errors,
        "target": row.target,
        "met": row.met,
        "checks": [_check_json(check) for check in row.checks],
        "runs": [
            {"round": run.round, "rss_kib": run.rss_kib} | run.result.as_dict() for run in row.runs
        ],
    }


def _check_json(check: Check) -> dict[str, Any]:
    return {"target": check.label, "met": check.met, "detail": check.detail}


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
