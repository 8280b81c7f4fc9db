"""deploy/compose.yaml describes a working multi-instance deployment, and every setting it
sets is one the service reads (a misspelt variable would be silently ignored)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from app.core.config import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "deploy" / "compose.yaml"
APP_SERVICES = ("api", "worker", "migrate")
# Read by the compose file or the images, not by the service's settings.
NOT_SETTINGS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Any] = document["services"]
    return found


def test_every_part_of_a_deployment_is_there(services: dict[str, Any]) -> None:
    assert set(services) >= {"lb", "api", "worker", "migrate", "postgres", "pgbouncer", "redis"}
    assert services["api"]["deploy"]["replicas"] >= 2
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, name
    assert "/readyz" in str(services["api"]["healthcheck"]["test"])
    assert "/readyz" in (PROJECT_ROOT / "deploy" / "haproxy.cfg").read_text()


def test_instances_share_a_secret_redis_and_the_media_volume(services: dict[str, Any]) -> None:
    secrets = set()
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        secrets.add(environment["SECRET_KEY"])
        assert environment["REDIS_URL"], name
        assert "shared-data:/data" in services[name]["volumes"], name
    assert len(secrets) == 1
    api = services["api"]["environment"]
    assert api["FORWARDED_ALLOW_IPS"] == services["lb"]["networks"]["backend"]["ipv4_address"]
    assert api["WEBHOOK_WORKER"] == "false"


def test_migrations_run_once_as_a_job_before_the_api(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert "rehab migrate" in " ".join(migrate["command"])
    # The advisory lock needs a session of its own: PostgreSQL itself, not PgBouncer.
    assert "@postgres:" in migrate["environment"]["DATABASE_URL"]
    assert "@pgbouncer:" in services["api"]["environment"]["DATABASE_URL"]
    for name in ("api", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"


def test_every_variable_set_for_the_service_is_a_setting(services: dict[str, Any]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    for name in APP_SERVICES:
        unknown = set(services[name]["environment"]) - known - NOT_SETTINGS
        assert not unknown, (name, unknown)


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    version = subprocess.run(  # noqa: S603 (a fixed command line)
        [docker, "compose", "version"], capture_output=True, timeout=30, check=False
    )
    if version.returncode != 0:
        pytest.skip("docker compose is not installed")
    env = {**os.environ, "SECRET_KEY": "k" * 48, "POSTGRES_PASSWORD": "p"}
    result = subprocess.run(  # noqa: S603 (a fixed command line)
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
