"""Settings, read from the environment and an optional `.env` file.

Every setting has a safe development default so `make run` works on a fresh
clone; production refuses the defaults that would be unsafe there.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


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
        default=None,
        description="Shared rate-limit counters and the change relay between instances; "
        "process memory when unset. Required past one instance.",
    )
    redis_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="How long a Redis connection or command may take before it counts as down.",
    )
    change_relay: Literal["auto", "redis", "postgres", "off"] = Field(
        default="auto",
        description="How instances tell each other what changed: auto is Redis pub/sub when "
        "REDIS_URL is set, else PostgreSQL LISTEN/NOTIFY, else (SQLite) nothing.",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Database connections each process keeps open (PostgreSQL and SQLite files).",
    )
    database_max_overflow: int = Field(
        default=40,
        ge=0,
        le=1000,
        description="Connections a process may open past DATABASE_POOL_SIZE under load; "
        "size both against the server's max_connections (see docs/deploy.md).",
    )
    database_prepared_statements: bool = Field(
        default=True,
        description="Let psycopg prepare repeated statements on the server; turn off behind "
        "PgBouncer in transaction mode, where a prepared statement may be on another server "
        "connection.",
    )
    database_pool_timeout_seconds: float = Field(
        default=30.0, gt=0, le=300, description="How long a request waits for a connection."
    )
    login_rate_per_account_and_address: str = Field(
        default="5/minute",
        description="Sign-in attempts for one account from one address (429 past it).",
    )
    login_rate_per_address: str = "20/minute"
    login_failures_per_account: str = Field(
        default="20/hour",
        description="Failed sign-ins for one account, from anywhere, before every attempt on "
        "it is slowed down and the owner is told; the right password still gets in.",
    )
    login_slowdown_seconds: float = Field(default=2.0, ge=0, le=10)
    mfa_required_for_staff: bool | None = Field(
        default=None,
        description="Admins and clinic staff need a sign-in that passed a second factor "
        "(an authenticator app) for admin and clinic routes; empty means on outside development.",
    )
    mfa_issuer: str = Field(
        default="Rehab API",
        max_length=60,
        description="The name authenticator apps show beside the account.",
    )
    access_log_days: int = Field(
        default=2190,
        ge=1,
        description="How long a record of who read a patient's data is kept (six years).",
    )
    access_log_flush_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often records of reads are written, in one batch.",
    )
    register_rate_per_address: str = "10/hour"
    invitation_days: int = Field(default=7, ge=1, le=60)
    redeem_rate_per_account: str = "10/hour"
    client_token_minutes: int = Field(default=15, ge=1, le=60)
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback/private networks and plain http (testing).",
    )
    webhook_worker: bool = Field(
        default=True,
        description="Send the outbox (webhooks and mail) from a thread of the API process.",
    )
    webhook_poll_seconds: float = Field(default=2.0, gt=0)
    adherence_check_minutes: int = Field(
        default=60,
        ge=0,
        le=1440,
        description="How often whatever sends the outbox looks for patients whose adherence "
        "fell below their clinic's threshold (`adherence.low`); 0 leaves it to "
        "`rehab check-adherence`.",
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_backoff_seconds: int = Field(default=30, ge=1)
    webhook_secret_grace_hours: int = Field(
        default=24, ge=0, le=24 * 30, description="How long a replaced webhook secret still signs."
    )
    webhook_max_subscriptions: int = Field(
        default=10, ge=1, le=100, description="Webhook subscriptions one clinic may hold."
    )
    outbox_lanes: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Outbox lanes sent at once: each clinic's webhooks are one, mail another.",
    )
    outbox_lease_seconds: float = Field(
        default=20.0,
        ge=5,
        le=600,
        description="How long a worker's claim on an outbox message lasts unrenewed (longer "
        "if one send may take longer): a killed worker's messages go out after about this.",
    )
    media_dir: Path = Field(
        default=Path(), description="Where media files live; empty means DATA_DIR/media."
    )
    media_base_url: str = Field(
        default="/media",
        description="Where media links point: this API's /media route, or a CDN or bucket.",
    )
    media_link_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    media_max_video_bytes: int = Field(
        default=200 << 20, ge=1024, description="Largest exercise video an admin may upload."
    )
    media_max_image_bytes: int = Field(
        default=5 << 20, ge=1024, description="Largest thumbnail image an admin may upload."
    )
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
        default=0,
        ge=0,
        description="Largest multipart/form-data body (media uploads); 0 means the largest "
        "media file allowed plus 1 MiB for the form around it.",
    )
    fhir_export_hours: int = Field(
        default=24, ge=1, le=24 * 14, description="How long a FHIR bulk export's files are kept."
    )
    fhir_export_link_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, description="How long an export file's link works."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: LogFormat | None = Field(
        default=None, description="json or text; empty means text in development, else json."
    )
    access_log: bool = Field(default=True, description="One log line per request.")
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    hsts_seconds: int = Field(
        default=0, ge=0, description="Strict-Transport-Security max-age; 0 sends none (not HTTPS)."
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies trusted to set X-Forwarded-For/-Proto (comma-separated addresses "
        "or networks, `*` for any); empty trusts none, so clients cannot choose their address.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call from (comma-separated); empty: no CORS headers.",
    )
    shutdown_grace_seconds: int = Field(
        default=20, ge=0, description="How long a stopping server lets in-flight requests finish."
    )
    app_name: str = Field(
        default="Rehab", min_length=1, max_length=60, description="The product's name in mail."
    )
    app_link_base: str = Field(
        default="http://127.0.0.1:8000/app",
        description="Where links in mail point: the app's deep-link base (a code is appended).",
    )
    mail_backend: Literal["console", "smtp", "file"] = Field(
        default="console",
        description="console (development: printed), smtp, or file (one .eml per message).",
    )
    mail_from: str = Field(default="Rehab <no-reply@example.com>", min_length=3)
    mail_file_dir: Path = Field(
        default=Path(), description="Where the file backend writes; empty means DATA_DIR/mail."
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    verify_email_hours: int = Field(default=24, ge=1, le=24 * 14)
    password_reset_minutes: int = Field(default=60, ge=5, le=24 * 60)
    verify_resend_rate_per_account: str = "3/hour"
    reset_rate_per_address: str = "5/hour"
    reset_rate_per_account: str = "3/hour"
    recent_sign_in_minutes: int = Field(
        default=5, ge=1, le=60, description="How fresh a sign-in deletes an account unasked."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        # An origin is scheme://host[:port] exactly as a browser sends it: no path, no wildcard.
        for origin in origins:
            scheme, _, rest = origin.rstrip("/").partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest or "*" in rest:
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return [origin.rstrip("/") for origin in origins]

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
        if self.mail_file_dir == Path():
            self.mail_file_dir = self.data_dir / "mail"
        return self

    @model_validator(mode="after")
    def _uploads_fit_the_largest_media_file(self) -> Settings:
        if self.max_upload_bytes == 0:
            largest = max(self.media_max_video_bytes, self.media_max_image_bytes)
            self.max_upload_bytes = largest + (1 << 20)
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rehab.db'}"

    @property
    def staff_need_second_factor(self) -> bool:
        if self.mfa_required_for_staff is not None:
            return self.mfa_required_for_staff
        return self.environment != Environment.DEVELOPMENT

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.TEXT if self.environment == Environment.DEVELOPMENT else LogFormat.JSON


@lru_cache
def get_settings() -> Settings:
    return Settings()
