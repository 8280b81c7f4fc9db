"""The `rehab` command: serve, migrate, seed, import, operate accounts, write the OpenAPI
document. Each module registers its commands on the one `cli`."""

from __future__ import annotations

from app.cli import accounts, operations  # noqa: F401  (they register their commands)
from app.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli()
