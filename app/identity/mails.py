"""The mail an account receives, rendered from templates in `mail_templates/`.

Plain text and HTML are written from the same values; HTML escapes them (a
display name is the person's own text). Links point at `APP_LINK_BASE`, the
app's deep-link base, with the single-use token appended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app.core.config import Settings
from app.outbox.mail import Mail

SUBJECTS = {
    "verify_email": "Confirm your email address",
    "email_change": "Confirm your new email address",
    "email_changed": "Your email address was changed",
    "password_reset": "Reset your password",
    "password_changed": "Your password was changed",
    "sign_in_attempts": "Many failed sign-ins to your account",
    "staff_invitation": "You are invited to join a clinic",
    "second_factor": "Your two-step sign-in changed",
}
PATHS = {
    "verify_email": "verify-email",
    "email_change": "verify-email",
    "password_reset": "reset-password",
    "staff_invitation": "join-clinic",
}


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("app.identity", "mail_templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long each kind of mailed token works."""

    verify: timedelta
    reset: timedelta


@dataclass(frozen=True, slots=True)
class MailContext:
    """What every mail knows: the product's name and where its links lead."""

    app_name: str
    link_base: str

    def link(self, kind: str, token: str) -> str:
        return f"{self.link_base.rstrip('/')}/{PATHS[kind]}?{urlencode({'token': token})}"

    def render(self, kind: str, *, to: str, name: str, **values: Any) -> Mail:
        subject = f"{SUBJECTS[kind]} - {self.app_name}"
        if "token" in values:
            values["link"] = self.link(kind, values["token"])
        context = {"app_name": self.app_name, "name": name, "subject": subject, **values}
        environment = _templates()
        return Mail(
            to=to,
            subject=subject,
            text=environment.get_template(f"{kind}.txt").render(context),
            html=environment.get_template(f"{kind}.html").render(context),
            kind=kind,
        )


def mail_context(settings: Settings) -> MailContext:
    return MailContext(app_name=settings.app_name, link_base=settings.app_link_base)


def lifetimes_of(settings: Settings) -> Lifetimes:
    return Lifetimes(
        verify=timedelta(hours=settings.verify_email_hours),
        reset=timedelta(minutes=settings.password_reset_minutes),
    )
