"""Driving a server with wrk and reading its report.

wrk is the load generator because it is cheap per request (C, one thread):
with the server pinned to one worker, the client must not be the bottleneck.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.console import Log

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed something this parser does not understand."""


def ensure_wrk(log: Log) -> str:
    """The wrk executable; installed with apt-get when missing (Debian, as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise WrkError("wrk is not installed and apt-get is not available: install wrk first")
    log("wrk not found: apt-get install -y wrk")
    if not _apt_get("install", "-y", "wrk"):
        log("install failed; refreshing the package lists and trying again")
        _apt_get("update")
        if not _apt_get("install", "-y", "wrk"):
            raise WrkError("`apt-get install -y wrk` failed (run as root, or install wrk)")
    found = shutil.which("wrk")
    if not found:
        raise WrkError("wrk was installed but is not on PATH")
    return found


def _apt_get(*args: str) -> bool:
    done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        ["apt-get", "-q", *args],  # noqa: S607 (apt-get from PATH, as an operator would)
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk (version unknown)"


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    @property
    def stalled(self) -> bool:
        """No request completed: the latencies wrk prints (0) mean nothing then."""
        return self.requests == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Load:
    """What to send: the URL, headers, an optional Lua script and its arguments."""

    url: str
    headers: tuple[str, ...] = ()
    script: Path | None = None
    script_args: tuple[str, ...] = ()


def _command(wrk: str, load: Load, *, seconds: int, connections: int) -> list[str]:
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in load.headers:
        command += ["-H", header]
    if load.script is not None:
        command += ["-s", str(load.script)]
    command.append(load.url)
    if load.script_args:
        command += ["--", *load.script_args]
    return command


def _result(returncode: int, stdout: str, stderr: str, seconds: int) -> WrkResult:
    if returncode != 0:
        raise WrkError(f"wrk failed ({returncode}):\n{stdout}{stderr}")
    result = parse_wrk(stdout)
    if result.stalled:  # every latency was at least the run's length
        return replace(result, p50_ms=seconds * 1000.0, p99_ms=seconds * 1000.0)
    return result


def run_wrk_together(
    wrk: str, loads: Sequence[Load], *, seconds: int, connections: int
) -> WrkResult:
    """One wrk per load, all at once, `connections` shared out among them; their requests/s
    and errors add up, and the latencies are the worst of theirs (a percentile of the whole
    lies between the parts', so the worst is an upper bound)."""
    share = max(1, connections // len(loads))
    processes = [
        subprocess.Popen(  # noqa: S603 (our own command line, no shell)
            _command(wrk, load, seconds=seconds, connections=share),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for load in loads
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=seconds + 60)
        results.append(_result(process.returncode, stdout, stderr, seconds))
    return WrkResult(
        requests_per_second=sum(r.requests_per_second for r in results),
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, p50, p99 (from `--latency`), and every error wrk counted."""
    rate = _REQUESTS_PER_SECOND.search(output)
    total = _TOTAL.search(output)
    percentiles = {m[1]: float(m[2]) * UNIT_MS[m[3]] for m in _PERCENTILE.finditer(output)}
    if rate is None or total is None or not {"50", "99"} <= percentiles.keys():
        raise WrkError(f"cannot read wrk's report:\n{output}")
    non_2xx = _NON_2XX.search(output)
    sockets = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_second=float(rate[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )
