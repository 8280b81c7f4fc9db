"""Operators manage accounts: find them, disable and enable, change roles, end sign-ins.

No FastAPI here. Every action is recorded in the audit trail (kind `user`, the
account's id as its slug, the role and disabled flag before and after: no
personal data, so the trail outlives an erased account without naming it) and
takes effect on the caller's next request everywhere: the change is recorded,
so every cache of the account's tokens forgets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.access.policy import Role
from app.authoring.audit import record_audit
from app.authoring.models import AuditAction, AuditKind
from app.core.changes import PrincipalChanged, record
from app.core.errors import ConflictError, NotFoundError
from app.core.pagination import PageParams
from app.identity.models import RefreshFamily, User
from app.identity.service import normalize_email, revoke_families

KIND = AuditKind.USER
COMMAND_LINE = User(id=None, email="rehab command line", password_hash="", display_name="")


@dataclass(frozen=True, slots=True)
class UserFilter:
    query: str | None = None
    role: Role | None = None
    disabled: bool | None = None
    verified: bool | None = None

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        if self.query:
            found.append(col(User.email).contains(self.query.strip().lower(), autoescape=True))
        if self.role is not None:
            found.append(col(User.role) == self.role)
        if self.disabled is not None:
            found.append(col(User.disabled).is_(self.disabled))
        if self.verified is not None:
            verified = col(User.email_verified_at)
            found.append(verified.is_not(None) if self.verified else verified.is_(None))
        return found


@dataclass(frozen=True, slots=True)
class Account:
    user: User
    active_sign_ins: int


def list_accounts(
    session: Session, *, where: UserFilter, page: PageParams
) -> tuple[list[Account], int]:
    """A page of accounts, oldest first, with how many sign-ins each has: two statements."""
    conditions = where.conditions()
    total = session.exec(select(func.count()).select_from(User).where(*conditions)).one()
    users = session.exec(
        select(User).where(*conditions).order_by(col(User.id)).offset(page.offset).limit(page.limit)
    ).all()
    return [
        Account(u, n) for u, n in zip(users, _sign_in_counts(session, users), strict=True)
    ], total


def _sign_in_counts(session: Session, users: Sequence[User]) -> list[int]:
    ids = [u.id or 0 for u in users]
    counts = dict(
        session.exec(
            select(RefreshFamily.user_id, func.count())
            .where(col(RefreshFamily.user_id).in_(ids), col(RefreshFamily.revoked_at).is_(None))
            .group_by(col(RefreshFamily.user_id))
        ).all()
    )
    return [counts.get(i, 0) for i in ids]


def get_account(session: Session, user_id: int) -> Account:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("No such account.")
    return Account(user, _sign_in_counts(session, [user])[0])


def account_with_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def find_by_email(session: Session, email: str) -> User:
    user = account_with_email(session, email)
    if user is None:
        raise NotFoundError(f"No account has the address {email}.")
    return user


def _standing(user: User) -> dict[str, Any]:
    return {"role": str(user.role), "disabled": user.disabled}


def update_account(
    session: Session,
    *,
    actor: User,
    user_id: int,
    disabled: bool | None,
    role: Role | None,
    now: datetime,
) -> User:
    """Disable or enable an account, or change its role; refused to strand the last admin."""
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFoundError("No such account.")
    before = _standing(user)
    losing_admin = user.role == Role.ADMIN and (
        (role is not None and role != Role.ADMIN) or (disabled is True and not user.disabled)
    )
    if losing_admin and _active_admins(session) <= 1:
        raise ConflictError("This is the last active administrator: appoint another first.")
    if disabled is not None:
        user.disabled = disabled
    if role is not None:
        user.role = role
    after = _standing(user)
    if after == before:
        return user
    user.updated_at = now
    session.add(user)
    record_audit(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        kind=KIND,
        slug=str(user_id),
        before=before,
        after=after,
    )
    session.flush()
    record(session, PrincipalChanged(user_id=user_id))
    return user


def _active_admins(session: Session) -> int:
    return session.exec(
        select(func.count())
        .select_from(User)
        .where(col(User.role) == Role.ADMIN, col(User.disabled).is_(False))
    ).one()


def end_sign_ins(session: Session, *, actor: User, user_id: int) -> None:
    """End every sign-in of the account: each device must sign in again."""
    if session.get(User, user_id) is None:
        raise NotFoundError("No such account.")
    revoke_families(session, user_id=user_id, reason="ended_by_operator", keep=None)
    record_audit(
        session,
        actor=actor,
        action=AuditAction.SIGN_OUT,
        kind=KIND,
        slug=str(user_id),
        before=None,
        after=None,
    )
