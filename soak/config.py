"""What one soak run uses: which databases, how long, how many connections."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.config import PROJECT_ROOT, BenchConfig, DatabaseKind

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/soak"


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """One database's run. `seconds` is the first round; the crash round is shorter."""

    kind: DatabaseKind
    database_url: str
    seconds: float
    crash_seconds: float
    connections: int
    members: int
    root: Path = PROJECT_ROOT

    @property
    def var_dir(self) -> Path:
        return self.root / "var" / "soak" / self.kind

    @property
    def mail_dir(self) -> Path:
        """Where the API writes its mail (one `.eml` a message) for the soak to read."""
        return self.var_dir / "mail"

    @property
    def server_log(self) -> Path:
        return self.var_dir / "api.log"

    def bench(self) -> BenchConfig:
        """The same run described for `bench`'s database helpers (reset, environment)."""
        return BenchConfig(
            root=self.root,
            var_dir=self.var_dir,
            database_url=self.database_url,
            kind=self.kind,
            seconds=max(1, int(self.seconds)),
        )


def sqlite_url(root: Path = PROJECT_ROOT) -> str:
    return f"sqlite:///{root / 'var' / 'soak' / 'sqlite' / 'rehab.db'}"


def normalise_postgres_url(url: str) -> str:
    """Accept the spellings the app accepts, and speak psycopg 3 like it does."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url
