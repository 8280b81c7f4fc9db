"""Signing in with a password, guarded so that nobody can lock another person out.

Attempts are limited per client address (any account) and per account *from one
address*: an attacker who guesses at someone's password exhausts only their own
allowance, and the owner, from their own address, still gets in. Failures for an
account from anywhere are counted too; past `LOGIN_FAILURES_PER_ACCOUNT` every
attempt on it is slowed down (a slower door, never a locked one), the event is
logged for operators, and the owner is told by mail, once an hour at most.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from app.core.config import Settings
from app.core.ratelimit import RateLimiter, account_key
from app.identity.mails import MailContext
from app.identity.models import User
from app.identity.service import normalize_email
from app.outbox.mail import enqueue_mail

security_log = logging.getLogger("app.security")
ALERT_RATE = "1/hour"


@dataclass(frozen=True, slots=True)
class SignInGuard:
    limiter: RateLimiter
    settings: Settings

    def admit(self, username: str, address: str) -> None:
        """Count this attempt; 429 past the address's or the account-and-address's allowance."""
        settings = self.settings
        self.limiter.hit(settings.login_rate_per_address, scope="login-ip", key=address)
        self.limiter.hit(
            settings.login_rate_per_account_and_address,
            scope="login-pair",
            key=_pair(username, address),
        )

    def delay(self, username: str) -> float:
        """Seconds to wait before checking the password: 0 unless the account is under siege."""
        besieged = self.limiter.exceeded(
            self.settings.login_failures_per_account,
            scope="login-fail",
            key=account_key(username),
        )
        return self.settings.login_slowdown_seconds if besieged else 0.0

    def failed(self, session: Session, username: str, *, mail: MailContext, now: datetime) -> bool:
        """Count a failure; at the account's threshold, log it and mail the owner (hourly at
        most). True when a mail was queued (the caller's transaction must then commit)."""
        account = account_key(username)
        under = self.limiter.count(
            self.settings.login_failures_per_account, scope="login-fail", key=account
        )
        if under:
            return False
        security_log.warning(
            "Repeated failed sign-ins for one account; attempts are slowed down",
            extra={"account": account[:16]},
        )
        if not self.limiter.count(ALERT_RATE, scope="login-alert", key=account):
            return False
        user = session.exec(select(User).where(User.email == normalize_email(username))).first()
        if user is None or user.disabled:
            return False
        message = mail.render("sign_in_attempts", to=user.email, name=user.display_name)
        enqueue_mail(session, mail=message, user_id=user.id, now=now)
        return True


def _pair(username: str, address: str) -> str:
    """One key for an account from one address, keeping both out of the counter store."""
    joined = f"{normalize_email(username)}|{address}"
    return hashlib.sha256(joined.encode()).hexdigest()
