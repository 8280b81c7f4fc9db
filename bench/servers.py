"""Servers under test: uvicorn in its own process group, ready-checked, always stopped.

Each server gets a new session (process group) so stopping it takes any child
with it, and its output goes to a log file under var/bench/ that is quoted
when it fails to start.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

READY_TIMEOUT = 60.0
# The last line of a traceback: `package.module.SomeError: message` (chained causes included).
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout)\b.*: ")
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def uvicorn_command(target: str, port: int, *, factory: bool = False) -> list[str]:
    """Production-like serving: one worker, no access log, warnings only."""
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    return [*command, "--factory"] if factory else command


class Server:
    """One uvicorn process: `start()` returns once `ready_path` answers 200."""

    def __init__(
        self, name: str, command: list[str], *, port: int, env: dict[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.env = env
        self.cwd = cwd
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self, ready_path: str) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own command line, no shell)
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(ready_path)

    def _wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(self.base_url + path, timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {path} in {READY_TIMEOUT:.0f} s")

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no output)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pid, signum)  # the group's id is the leader's pid (start_new_session)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (all its threads), from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(
    pid: int, *, busy_share: float = 0.05, window: float = 0.5, timeout: float = 60.0
) -> float:
    """Wait until `pid` uses less than `busy_share` of a core over `window`; seconds waited.

    A server keeps working on requests wrk abandoned when a run ended; without
    this, a slow scenario would spill its backlog into the next measurement.
    """
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before < busy_share * window:
            break
    return time.monotonic() - started


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its children, from /proc (VmRSS, in KiB)."""
    total = 0
    for member in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


class RssSampler:
    """The peak resident memory of a process while a block runs (sampled five times a second)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


def code_fingerprint(folder: Path) -> str:
    """A digest of every Python file's path, size and mtime under `folder`.

    A server loads the code once at start; when the code changes between two
    starts (someone editing while the bench runs), their numbers are not comparable.
    """
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(folder.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def logged_errors(log: Path) -> dict[str, int]:
    """Unhandled errors a server logged, counted by their final exception line.

    wrk only says how many responses were not 2xx; the server's log says why.
    """
    if not log.exists():
        return {}
    counts: dict[str, int] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if _EXCEPTION_LINE.match(line):
            counts[line[:200]] = counts.get(line[:200], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
