"""The `rehab` command itself, and what its commands share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

import app.models  # noqa: F401  (every table, so foreign keys across packages resolve)

if TYPE_CHECKING:
    from app.core.config import Settings
    from app.core.db import Database

cli = typer.Typer(help="Operate the rehab API.", no_args_is_help=True, add_completion=False)
users = typer.Typer(help="Manage accounts: disable, enable, change roles, end sign-ins.")
cli.add_typer(users, name="users")


def open_database(settings: Settings) -> Database:
    """The database, with what this command commits told to the running instances."""
    from app.core.buses import bus_for
    from app.core.db import Database
    from app.core.relay import send_commits

    database = Database.from_settings(settings)
    bus = bus_for(settings)
    if bus is not None:
        send_commits(database.changes, bus)
    return database


def fail(lines: list[str], headline: str) -> None:
    typer.echo(headline, err=True)
    for line in lines:
        typer.echo(f"  - {line}", err=True)
    raise typer.Exit(code=1)
