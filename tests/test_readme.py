"""The README's walk-throughs, run as written against a freshly served instance.

Every ```sh block from "A walk through with curl" on is pasted, in order, into
one `bash -euo pipefail` at a project-like folder (`.venv` and `examples/`
beside it), as a newcomer would paste them with `MAIL_BACKEND=file make run`
going. The only change is the address: the server listens on a free port. A
`curl` wrapper notes each answer's status, so the test holds the README to
what it says: no 5xx, and exactly the 4xx answers its `# -> 4NN` comments
announce, in that order.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
WALK_THROUGH_START = "## A walk through with curl"
README_ADDRESS = "http://127.0.0.1:8000"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
ANNOUNCED_ERROR = re.compile(r"#\s*-> (4\d\d)\b")
ANSWER_LINE = re.compile(r"^HTTP (\d{3}) (\S+) (\S+)$", re.MULTILINE)
# Each answer's status on stderr, whatever the command does with the body.
CURL_WRAPPER = (
    "curl() { command curl -w '%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n' \"$@\"; }"
)
SCRIPT_SECONDS = 240
READY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Instance:
    base_url: str
    folder: Path
    env: dict[str, str]


def walk_through_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return SH_BLOCK.findall(text[text.index(WALK_THROUGH_START) :])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rehab(folder: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run(  # noqa: S603 (our own command line, no shell)
        [str(Path(sys.executable).with_name("rehab")), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"rehab {' '.join(args)}:\n{done.stdout}{done.stderr}"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    """What `MAIL_BACKEND=file make run` serves, in a folder of its own."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".venv").symlink_to(Path(sys.executable).parents[1])
    (folder / "examples").symlink_to(PROJECT_ROOT / "examples")
    data = folder / "var"
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEST_", "REHAB_", "MAIL_", "DATABASE_", "PYTEST"))
    } | {
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'rehab.db'}",
        "MAIL_BACKEND": "file",
        "ENVIRONMENT": "development",
        "WEBHOOK_POLL_SECONDS": "0.2",
    }
    data.mkdir()
    _rehab(folder, env, "migrate")
    _rehab(folder, env, "seed", "--placeholder-media")
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 (our own command line, no shell)
        [str(Path(sys.executable).with_name("rehab")), "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, server, tmp_path / "server.log")
        yield Instance(base_url=base_url, folder=folder, env=env)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_until_ready(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server was not ready in {READY_SECONDS} s")


def test_the_readme_walk_throughs_run_as_written_and_answer_what_they_announce(
    instance: Instance,
) -> None:
    blocks = walk_through_blocks()
    script = "\n".join([CURL_WRAPPER, *blocks]).replace(README_ADDRESS, instance.base_url)
    done = subprocess.run(  # noqa: S603 (bash on the README's own text)
        ["bash", "-euo", "pipefail", "-c", script],  # noqa: S607 (bash from PATH, as a reader's)
        cwd=instance.folder,
        env=instance.env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_SECONDS,
        check=False,
    )
    answers = ANSWER_LINE.findall(done.stderr)
    transcript = f"stdout:\n{done.stdout[-6000:]}\nstderr:\n{done.stderr[-6000:]}"
    assert done.returncode == 0, transcript

    server_errors = [answer for answer in answers if answer[0].startswith("5")]
    assert server_errors == [], transcript
    refused = [status for status, _method, _url in answers if status.startswith("4")]
    announced = [code for block in blocks for code in ANNOUNCED_ERROR.findall(block)]
    assert refused == announced, "\n".join(" ".join(answer) for answer in answers)
    assert len(answers) > 60  # the walk-throughs ran, not just the first lines


def test_every_file_the_walk_throughs_name_is_in_the_project() -> None:
    named = {
        match
        for block in walk_through_blocks()
        for match in re.findall(r"(?:@|python3? |python )(examples/[\w.-]+)", block)
    }
    assert named, "the walk-throughs name files under examples/"
    assert sorted(path for path in named if not (PROJECT_ROOT / path).is_file()) == []
