"""The `rehab` commands for accounts: make an administrator, and `rehab users ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.base import cli, fail, open_database, users
from app.core.config import get_settings


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="The administrator's email.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the app.")] = "Administrator",
    password: Annotated[
        str | None,
        typer.Option(
            envvar="REHAB_ADMIN_PASSWORD",
            help="Read from REHAB_ADMIN_PASSWORD, or asked for (never echoed).",
        ),
    ] = None,
) -> None:
    """Create an administrator account, or make an existing account an administrator."""
    from pydantic import ValidationError

    from app.access.policy import Role
    from app.accounts import operators
    from app.core.errors import ProblemError
    from app.core.models import utcnow
    from app.identity.service import create_admin as create_admin_account

    database = open_database(get_settings())
    try:
        with database.write_session() as session:
            found = operators.account_with_email(session, email)
            if found is not None:
                user = found
                assert user.id is not None
                operators.update_account(
                    session,
                    actor=operators.COMMAND_LINE,
                    user_id=user.id,
                    disabled=None,
                    role=Role.ADMIN,
                    now=utcnow(),
                )
                typer.echo(f"{user.email} (id {user.id}) is now an administrator.")
                return
            secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
            user = create_admin_account(
                session, email=email, password=secret, display_name=display_name
            )
            # An operator made this account by hand, for an address they gave.
            user.email_verified_at = utcnow()
    except ProblemError as exc:
        fail([exc.detail], "The administrator was not created:")
    except ValidationError as exc:
        fail([str(err["msg"]) for err in exc.errors()], "The administrator was not created:")
    finally:
        database.dispose()
    typer.echo(f"Created administrator {user.email} (id {user.id}).")


def _manage(email: str, *, disabled: bool | None = None, role: str | None = None) -> None:
    from app.access.policy import Role
    from app.accounts import operators
    from app.core.errors import ProblemError
    from app.core.models import utcnow

    database = open_database(get_settings())
    try:
        with database.write_session() as session:
            user = operators.find_by_email(session, email)
            assert user.id is not None
            operators.update_account(
                session,
                actor=operators.COMMAND_LINE,
                user_id=user.id,
                disabled=disabled,
                role=Role(role) if role else None,
                now=utcnow(),
            )
            summary = (
                f"{user.email}: role {user.role}, {'disabled' if user.disabled else 'active'}."
            )
    except ProblemError as exc:
        fail([exc.detail], "Nothing was changed:")
    finally:
        database.dispose()
    typer.echo(summary)


@users.command("disable")
def disable_user(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Disable an account: refused at once on every request, refresh included."""
    _manage(email, disabled=True)


@users.command("enable")
def enable_user(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Enable a disabled account again."""
    _manage(email, disabled=False)


@users.command("role")
def set_role(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    role: Annotated[str, typer.Argument(help="member, clinician or admin.")],
) -> None:
    """Change an account's role."""
    if role not in ("member", "clinician", "admin"):
        fail([f"'{role}' is not member, clinician or admin."], "Nothing was changed:")
    _manage(email, role=role)


@users.command("sign-out")
def sign_out_user(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """End every sign-in of an account: each device must sign in again."""
    from app.accounts import operators
    from app.core.errors import ProblemError

    database = open_database(get_settings())
    try:
        with database.write_session() as session:
            user = operators.find_by_email(session, email)
            assert user.id is not None
            operators.end_sign_ins(session, actor=operators.COMMAND_LINE, user_id=user.id)
    except ProblemError as exc:
        fail([exc.detail], "Nothing was changed:")
    finally:
        database.dispose()
    typer.echo(f"Every sign-in of {email} has ended.")
