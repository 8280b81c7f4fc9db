"""Real `rehab serve` instances and a `rehab worker`, started as an operator starts them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

COMMAND = [sys.executable, "-c", "from app.cli import main; main()"]
START_SECONDS = 60.0  # an upper bound for a server to come up on a busy machine
STOP_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)


def _wait_ready(server: Server, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server was not ready in {START_SECONDS} s:\n{log.read_text()}")


@contextmanager
def running(env: dict[str, str], folder: Path, *, servers: int = 2) -> Iterator[list[Server]]:
    """`servers` instances of `rehab serve` and one `rehab worker`, stopped afterwards."""
    environment = {**os.environ, **env}
    with ExitStack() as stack:
        started: list[Server] = []
        for number in range(servers):
            port = free_port()
            log = folder / f"server{number}.log"
            handle = stack.enter_context(log.open("wb"))
            process = subprocess.Popen(  # noqa: S603 (our own command line)
                [*COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=environment,
                cwd=folder,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, process)
            started.append(Server(f"http://127.0.0.1:{port}", process))
        worker_log = stack.enter_context((folder / "worker.log").open("wb"))
        worker = subprocess.Popen(  # noqa: S603 (our own command line)
            [*COMMAND, "worker"],
            env=environment,
            cwd=folder,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(_stop, worker)
        for number, server in enumerate(started):
            _wait_ready(server, folder / f"server{number}.log")
        yield started
        assert worker.poll() is None, (folder / "worker.log").read_text()
