"""Who the client is, as `rehab serve` sees it: a forwarded address counts only from a proxy
named in FORWARDED_ALLOW_IPS (empty by default, so not even loopback may say it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.core.test_shutdown import command_env, free_port, rehab, wait_for_output

__all__ = ["command_env"]  # the fixture, used by the server below


@pytest.fixture
def serve(command_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., str]]:
    processes = []

    def start(**extra: str) -> str:
        port = free_port()
        output = tmp_path / f"serve-{port}.log"
        env = command_env | {"REGISTER_RATE_PER_ADDRESS": "2/hour"} | extra
        process = rehab("serve", "--port", str(port), env=env, output=output)
        processes.append(process)
        wait_for_output(process, output, "Uvicorn running on")  # listening (after startup)
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.kill()
        process.wait()


def register_from(base: str, forwarded_for: str, n: int) -> int:
    response = httpx.post(
        f"{base}/v1/auth/register",
        headers={"X-Forwarded-For": forwarded_for},
        json={
            "email": f"p{n}-{forwarded_for}@example.com",
            "password": "a sturdy passphrase 42",
            "display_name": "P",
        },
    )
    return response.status_code


@pytest.mark.usefixtures("database")
def test_a_forwarded_address_from_an_unnamed_proxy_changes_nothing(
    serve: Callable[..., str],
) -> None:
    base = serve()
    statuses = [register_from(base, f"203.0.113.{n}", n) for n in range(3)]
    assert statuses == [201, 201, 429]  # one client, however many addresses it claims


@pytest.mark.usefixtures("database")
def test_a_named_proxy_says_who_the_client_is(serve: Callable[..., str]) -> None:
    base = serve(FORWARDED_ALLOW_IPS="127.0.0.1")
    statuses = [register_from(base, f"203.0.113.{n}", n) for n in range(3)]
    assert statuses == [201, 201, 201]  # three clients behind the proxy
