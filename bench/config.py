"""What one benchmark run uses: the database, the paths and the wrk settings.

Everything comes from the environment so `make bench` needs no arguments:
BENCH_SECONDS (default 10) and BENCH_DATABASE_URL (default: a fresh SQLite
file under var/bench/).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LIBRARY_FILE = PROJECT_ROOT.parent / "shared" / "data" / "free-exercise-db" / "exercises.json"

DatabaseKind = Literal["sqlite", "postgresql"]


class ConfigError(RuntimeError):
    """A BENCH_* variable the run cannot use."""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    root: Path
    var_dir: Path
    database_url: str
    kind: DatabaseKind
    seconds: int
    warmup_seconds: int = 2
    rounds: int = 3
    connections: int = 32
    users: int = 1_000
    sessions: int = 100_000
    library_size: int = 873
    copies: int = 10

    @property
    def sqlite_file(self) -> Path:
        return self.var_dir / "rehab.db"

    @property
    def results_file(self) -> Path:
        return self.var_dir / f"results-{self.kind}.json"

    @property
    def database_label(self) -> str:
        """Where the data lives, without a password."""
        if self.kind == "sqlite":
            return str(self.sqlite_file.relative_to(self.root))
        url = make_url(self.database_url)
        return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"

    @classmethod
    def from_env(cls) -> BenchConfig:
        var_dir = PROJECT_ROOT / "var" / "bench"
        url = _normalise(os.environ.get("BENCH_DATABASE_URL", "").strip())
        if not url:
            return cls(
                root=PROJECT_ROOT,
                var_dir=var_dir,
                database_url=f"sqlite:///{var_dir / 'rehab.db'}",
                kind="sqlite",
                seconds=_seconds(),
            )
        if make_url(url).get_backend_name() != "postgresql":
            raise ConfigError(f"BENCH_DATABASE_URL must be a PostgreSQL URL, not {url!r}")
        return cls(
            root=PROJECT_ROOT,
            var_dir=var_dir,
            database_url=url,
            kind="postgresql",
            seconds=_seconds(),
        )


def _normalise(url: str) -> str:
    """Accept the same spellings the app accepts, and speak psycopg 3 like it does."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _seconds() -> int:
    raw = os.environ.get("BENCH_SECONDS", "10")
    try:
        seconds = int(raw)
    except ValueError:
        raise ConfigError(f"BENCH_SECONDS must be a whole number of seconds, not {raw!r}") from None
    if seconds < 1:
        raise ConfigError("BENCH_SECONDS must be at least 1")
    return seconds
