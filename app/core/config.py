"""Settings, read from the environment and an optional `.env` file.

Every setting has a safe development default so `make run` works on a fresh
clone; production refuses the defaults that would be unsafe there.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Where the embedded SQLite file and other local state live.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at DATA_DIR/rehab.db.",
    )
    sql_echo: bool = False
    seed_dir: Path = PROJECT_ROOT / "seed"
    secret_key: SecretStr | None = Field(
        default=None,
        description="At least 32 random bytes; development generates one under DATA_DIR.",
    )
    jwt_issuer: str = "rehab-api"
    jwt_audience: str = "rehab-api"
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=60)
    redis_url: str | None = Field(
        default=None, description="Shared rate-limit counters; process memory when unset."
    )
    login_rate_per_account: str = "5/minute"
    login_rate_per_address: str = "20/minute"
    register_rate_per_address: str = "10/hour"
    invitation_days: int = Field(default=7, ge=1, le=60)
    redeem_rate_per_account: str = "10/hour"
    client_token_minutes: int = Field(default=15, ge=1, le=60)
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback/private networks and plain http (testing).",
    )
    webhook_worker: bool = Field(
        default=True, description="Deliver webhooks from a background thread of the API process."
    )
    webhook_poll_seconds: float = Field(default=2.0, gt=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_backoff_seconds: int = Field(default=30, ge=1)
    media_dir: Path = Field(
        default=Path(), description="Where media files live; empty means DATA_DIR/media."
    )
    media_base_url: str = Field(
        default="/media",
        description="Where media links point: this API's /media route, or a CDN or bucket.",
    )
    media_link_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    viewer_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="How long a token's viewer (account, stages, hints) is reused; 0 turns it off.",
    )
    content_poll_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often a process checks whether another process changed the content.",
    )
    public_cache_seconds: int = Field(default=60, ge=0)
    max_body_bytes: int = Field(
        default=5 << 20,
        ge=1024,
        description="Largest request body (413 past it). The largest valid sync batch "
        "(100 sessions of 50 entries, every text at its maximum) is about 3.7 MiB.",
    )
    max_upload_bytes: int = Field(
        default=50 << 20,
        ge=1024,
        description="Largest multipart/form-data body (media uploads).",
    )
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_driver(cls, value: str) -> str:
        # Hosting platforms hand out `postgres://` or `postgresql://`; we speak psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value.removeprefix(prefix)
        return value

    @model_validator(mode="after")
    def _media_under_data_dir(self) -> Settings:
        if self.media_dir == Path():
            self.media_dir = self.data_dir / "media"
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rehab.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
