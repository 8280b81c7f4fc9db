"""The signing secret: refused when weak outside development, kept across restarts locally."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from app.core.config import Environment, Settings
from app.core.secrets import InsecureSecretError, resolve_secret_key


def settings_with(tmp_path: Path, environment: Environment, secret: str | None) -> Settings:
    return Settings(
        environment=environment,
        data_dir=tmp_path,
        secret_key=SecretStr(secret) if secret is not None else None,
    )


@pytest.mark.parametrize("secret", [None, "", "changethis", "short-secret", "x" * 31])
def test_production_refuses_a_missing_weak_or_placeholder_secret(
    tmp_path: Path, secret: str | None
) -> None:
    with pytest.raises(InsecureSecretError):
        resolve_secret_key(settings_with(tmp_path, Environment.PRODUCTION, secret))


def test_production_accepts_a_long_random_secret(tmp_path: Path) -> None:
    secret = "k" * 16 + "7Gx2-pQ9vLr3Zs8YwT1m"
    key = resolve_secret_key(settings_with(tmp_path, Environment.PRODUCTION, secret))
    assert key == secret.encode()


def test_development_generates_a_secret_once_and_keeps_it(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, Environment.DEVELOPMENT, None)
    first = resolve_secret_key(settings)
    assert len(first) >= 32
    assert resolve_secret_key(settings) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_weak_configured_secret_is_refused_even_in_development(tmp_path: Path) -> None:
    with pytest.raises(InsecureSecretError):
        resolve_secret_key(settings_with(tmp_path, Environment.DEVELOPMENT, "changeme"))


def test_postgres_urls_are_given_the_psycopg_driver() -> None:
    settings = Settings(database_url="postgres://u@db/rehab")
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/rehab"
