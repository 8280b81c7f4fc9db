"""Sending mail from the outbox: console in development, SMTP in production, or files.

A mail message is queued in the outbox (`enqueue_mail`) in the transaction of the
change that caused it, already rendered (subject, plain text, HTML), and sent by
the outbox worker with its retries. Once sent, only its recipient, subject and
kind are kept: the bodies carry single-use links.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TextIO

import aiosmtplib
from sqlmodel import Session

from app.core.models import utcnow
from app.outbox.models import Channel, OutboxMessage
from app.outbox.worker import Claimed, Outcome


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


@dataclass(frozen=True, slots=True)
class Mail:
    """A rendered message: what the outbox keeps until it is sent."""

    to: str
    subject: str
    text: str
    html: str
    kind: str  # the template it came from: verify-email, password-reset, ...


def enqueue_mail(session: Session, *, mail: Mail, user_id: int | None, now: datetime) -> None:
    """Owe `mail` to its recipient, in the caller's transaction (sent once it commits)."""
    session.add(
        OutboxMessage(
            channel=Channel.MAIL,
            user_id=user_id,
            event_id=str(uuid.uuid4()),
            event_type=mail.kind[:32],
            payload={
                "to": mail.to,
                "subject": mail.subject,
                "text": mail.text,
                "html": mail.html,
                "kind": mail.kind,
            },
            next_attempt_at=now,
            created_at=now,
        )
    )


class Transport(Protocol):
    def deliver(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsoleTransport:
    """Development: the whole message on standard output, so a reset link can be followed."""

    stream: TextIO = sys.stdout

    def deliver(self, message: EmailMessage) -> None:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        self.stream.write(
            f"\n----- mail -----\nTo: {message['To']}\nFrom: {message['From']}\n"
            f"Subject: {message['Subject']}\n\n{text}\n----- end of mail -----\n"
        )
        self.stream.flush()


@dataclass(frozen=True, slots=True)
class FileTransport:
    """Each message as an `.eml` file in a folder (staging, and the README's walk-through)."""

    folder: Path

    def deliver(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(bytes(message))
        partial.rename(self.folder / name)  # readers never see half a message


@dataclass(frozen=True, slots=True)
class SmtpTransport:
    host: str
    port: int
    security: SmtpSecurity
    username: str | None
    password: str | None
    timeout_seconds: float

    def deliver(self, message: EmailMessage) -> None:
        asyncio.run(
            aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                use_tls=self.security == SmtpSecurity.TLS,
                start_tls=self.security == SmtpSecurity.STARTTLS,
                username=self.username,
                password=self.password,
                timeout=self.timeout_seconds,
            )
        )


class MailSender:
    """The outbox's mail channel."""

    def __init__(self, transport: Transport, *, sender: str, timeout_seconds: float) -> None:
        self._transport = transport
        self._from = sender
        self._timeout = timeout_seconds

    def seconds_per_message(self) -> float:
        return self._timeout

    def send(self, message: Claimed) -> Outcome:
        payload: dict[str, Any] = message.payload
        email = EmailMessage()
        email["From"] = self._from
        email["To"] = str(payload["to"])
        email["Subject"] = str(payload["subject"])
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(idstring=message.event_id)
        email.set_content(str(payload["text"]))
        email.add_alternative(str(payload["html"]), subtype="html")
        try:
            self._transport.deliver(email)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
        kept: dict[str, Any] = {k: payload[k] for k in ("to", "subject", "kind") if k in payload}
        return Outcome(keep=kept)
