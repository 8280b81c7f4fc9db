"""An account's life by mail: proving an address, changing it, resetting a password.

No FastAPI here. Each mail is a single-use token kept only as a hash, sent
through the outbox in the transaction that issued it. A verification names
the address it proves; a reset is bound to the password hash it was issued
against, so it dies the moment the password changes. Tokens are spent by one
conditional UPDATE, so two racing requests can never both use one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.changes import PrincipalChanged, record
from app.core.errors import ConflictError, InvalidInputError
from app.identity.mails import Lifetimes, MailContext
from app.identity.models import AccountToken, TokenPurpose, User
from app.identity.passwords import hash_password, verify_password
from app.identity.service import check_password, normalize_email, revoke_families
from app.outbox.mail import enqueue_mail

INVALID_TOKEN = "This link or code is not valid (it may have expired or been used)."  # noqa: S105


class SpentTokenError(ConflictError):
    """A mailed token that no longer works: unknown, used, expired, or outlived by a change.

    A state conflict, not bad input: the same token was good a moment ago. One answer for
    every case, so nothing is learnt by trying tokens.
    """

    type = "/problems/invalid-token"

    def __init__(self) -> None:
        super().__init__(INVALID_TOKEN)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_fingerprint(user: User) -> str:
    """What a reset token is bound to: the password as it was when the token was issued."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()


def _issue(
    session: Session,
    user: User,
    *,
    purpose: TokenPurpose,
    email: str,
    lifetime: timedelta,
    now: datetime,
    bound_to: str | None = None,
) -> str:
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=_hash(token),
            email=email,
            bound_to=bound_to,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def _spend(session: Session, token: str, purpose: TokenPurpose, now: datetime) -> AccountToken:
    """Use a token once; one answer for unknown, used and expired tokens."""
    spent = session.execute(
        update(AccountToken)
        .where(
            col(AccountToken.token_hash) == _hash(token),
            col(AccountToken.purpose) == purpose,
            col(AccountToken.used_at).is_(None),
            col(AccountToken.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(AccountToken.id))
    ).first()
    if spent is None:
        raise SpentTokenError
    found = session.get(AccountToken, spent[0])
    assert found is not None
    return found


# ---------------------------------------------------------------------------
# Proving an address


def send_verification(
    session: Session, user: User, *, mail: MailContext, lifetimes: Lifetimes, now: datetime
) -> None:
    """Mail a single-use link proving `user.email` (at registration, or asked again)."""
    token = _issue(
        session,
        user,
        purpose=TokenPurpose.VERIFY_EMAIL,
        email=user.email,
        lifetime=lifetimes.verify,
        now=now,
    )
    message = mail.render(
        "verify_email",
        to=user.email,
        name=user.display_name,
        email=user.email,
        token=token,
        hours=int(lifetimes.verify.total_seconds() // 3600),
    )
    enqueue_mail(session, mail=message, user_id=user.id, now=now)


def request_email_change(
    session: Session,
    user: User,
    *,
    new_email: str,
    current_password: str,
    mail: MailContext,
    lifetimes: Lifetimes,
    now: datetime,
) -> None:
    """Mail the new address a link; the account keeps its address until it is opened.

    A new address that another account holds gets no mail, and the answer is the
    same: whether an address is registered is nobody else's business.
    """
    valid, _ = verify_password(current_password, user.password_hash)
    if not valid:
        raise InvalidInputError.for_field(
            "body.current_password", "The current password is not correct.", "wrong_password"
        )
    email = normalize_email(new_email)
    if email == user.email:
        raise InvalidInputError.for_field("body.email", "This is already your address.")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        return
    token = _issue(
        session,
        user,
        purpose=TokenPurpose.VERIFY_EMAIL,
        email=email,
        lifetime=lifetimes.verify,
        now=now,
    )
    message = mail.render(
        "email_change",
        to=email,
        name=user.display_name,
        email=email,
        token=token,
        hours=int(lifetimes.verify.total_seconds() // 3600),
    )
    enqueue_mail(session, mail=message, user_id=user.id, now=now)


def verify_email(session: Session, token: str, *, mail: MailContext, now: datetime) -> User:
    """Spend a verification token: the address it names is proven (and becomes the
    account's address, for a change, with a word to the old one)."""
    spent = _spend(session, token, TokenPurpose.VERIFY_EMAIL, now)
    user = session.get(User, spent.user_id, with_for_update=True)
    if user is None or user.disabled:
        raise SpentTokenError
    old_email = user.email
    if spent.email != old_email:
        user.email = spent.email
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError as exc:
            raise ConflictError("Another account took this address meanwhile.") from exc
        notice = mail.render(
            "email_changed",
            to=old_email,
            name=user.display_name,
            email=spent.email,
            old_email=old_email,
        )
        enqueue_mail(session, mail=notice, user_id=user.id, now=now)
    user.email_verified_at = now
    user.updated_at = now
    session.add(user)
    session.flush()
    record(session, PrincipalChanged(user_id=user.id))
    return user


# ---------------------------------------------------------------------------
# A forgotten password


def request_password_reset(
    session: Session, email: str, *, mail: MailContext, lifetimes: Lifetimes, now: datetime
) -> None:
    """Mail a reset link if an active account has this address; nothing otherwise."""
    user = session.exec(select(User).where(User.email == normalize_email(email))).first()
    if user is None or user.disabled:
        return
    token = _issue(
        session,
        user,
        purpose=TokenPurpose.PASSWORD_RESET,
        email=user.email,
        lifetime=lifetimes.reset,
        now=now,
        bound_to=password_fingerprint(user),
    )
    message = mail.render(
        "password_reset",
        to=user.email,
        name=user.display_name,
        token=token,
        minutes=int(lifetimes.reset.total_seconds() // 60),
    )
    enqueue_mail(session, mail=message, user_id=user.id, now=now)


def reset_password(
    session: Session, token: str, new_password: str, *, mail: MailContext, now: datetime
) -> User:
    """Spend a reset token: set the new password and end every sign-in."""
    spent = _spend(session, token, TokenPurpose.PASSWORD_RESET, now)
    user = session.get(User, spent.user_id, with_for_update=True)
    if user is None or user.disabled or spent.bound_to != password_fingerprint(user):
        raise SpentTokenError
    check_password(new_password, email=user.email, pointer="body.new_password")
    user.password_hash = hash_password(new_password)
    # A reset proves the person reads mail at this address.
    user.email_verified_at = user.email_verified_at or now
    user.updated_at = now
    session.add(user)
    assert user.id is not None
    revoke_families(session, user_id=user.id, reason="password_reset", keep=None)
    notice = mail.render("password_changed", to=user.email, name=user.display_name)
    enqueue_mail(session, mail=notice, user_id=user.id, now=now)
    return user
