"""Accounts, sign-in and refresh-token families (RFC 9700 rotation with reuse detection).

No FastAPI here. Uniqueness is left to the database: a taken email is an
IntegrityError, a refresh token is spent by one conditional UPDATE, so two
racing requests can never both succeed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.access.policy import Role
from app.core.changes import PrincipalChanged, record
from app.core.config import Settings
from app.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ProblemError,
    UnauthorizedError,
)
from app.core.jwt import InvalidTokenError, TokenCodec, TokenType
from app.core.models import utcnow
from app.identity.models import ApiClient, RefreshFamily, RefreshToken, User
from app.identity.passwords import hash_password, password_problems, verify_password
from app.identity.schemas import MeUpdate, RegisterIn
from app.identity.subject import UserSubject


class InvalidGrantError(ProblemError):
    """RFC 6749 `invalid_grant`: wrong credentials, or a refresh token that no longer works."""

    status = 400
    type = "/problems/invalid-grant"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, extra={"error": "invalid_grant"})


class ToldInvalidGrantError(InvalidGrantError):
    """A failed sign-in that queued a word to the account's owner: that must stick."""

    keeps_changes = True


class RefreshReuseError(InvalidGrantError):
    """A spent refresh token came back: the family is revoked, and that must stick."""

    keeps_changes = True


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------------
# Accounts


def check_password(password: str, *, email: str, pointer: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInputError(
            "The password is not acceptable: " + "; ".join(problems) + ".",
            extra={
                "errors": [
                    {"pointer": pointer, "detail": f"Password {p}", "type": "password_policy"}
                    for p in problems
                ]
            },
        )


def register(session: Session, data: RegisterIn, *, role: Role = Role.MEMBER) -> User:
    """Create an account; a taken email is a conflict decided by the unique constraint."""
    email = normalize_email(data.email)
    check_password(data.password, email=email, pointer="body.password")
    user = User(
        email=email,
        password_hash=hash_password(data.password),
        display_name=data.display_name,
        role=role,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise ConflictError("An account with this email already exists.") from exc
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user these credentials belong to, or None; the same work either way."""
    user = session.exec(select(User).where(User.email == normalize_email(email))).first()
    valid, new_hash = verify_password(password, user.password_hash if user else None)
    if user is None or not valid or user.disabled:
        return None
    if new_hash is not None:  # parameters changed since this hash was made
        user.password_hash = new_hash
    return user


def fresh_user(session: Session, user: User) -> User:
    """`user` read again in this transaction, so a change starts from what is stored."""
    assert user.id is not None
    stored = session.get(User, user.id, populate_existing=True)
    if stored is None:  # deleted since the token was checked
        raise UnauthorizedError("This account no longer exists.", invalid_token=True)
    return stored


def update_me(session: Session, user: User, changes: MeUpdate) -> User:
    user.display_name = changes.display_name
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    record(session, PrincipalChanged(user_id=user.id))
    return user


def change_password(
    session: Session, user: User, *, current: str, new: str, keep_family: str
) -> None:
    """Set a new password and end every other sign-in of this account."""
    valid, _ = verify_password(current, user.password_hash)
    if not valid:
        raise InvalidInputError.for_field(
            "body.current_password", "The current password is not correct.", "wrong_password"
        )
    check_password(new, email=user.email, pointer="body.new_password")
    user.password_hash = hash_password(new)
    user.updated_at = utcnow()
    session.add(user)
    revoke_families(session, user_id=user.id or 0, reason="password_changed", keep=keep_family)


def create_admin(session: Session, *, email: str, password: str, display_name: str) -> User:
    return register(
        session,
        RegisterIn(email=email, password=password, display_name=display_name),
        role=Role.ADMIN,
    )


# ---------------------------------------------------------------------------
# Tokens


def start_session(
    session: Session,
    user: User,
    codec: TokenCodec,
    settings: Settings,
    *,
    device: str | None = None,
    second_factor_at: datetime | None = None,
) -> TokenPair:
    """Sign `user` in: a new refresh family (on `device`) and its first token pair."""
    assert user.id is not None
    now = utcnow()
    family = RefreshFamily(
        id=secrets.token_hex(16),
        user_id=user.id,
        device=device[:200] if device else None,
        created_at=now,
        last_used_at=now,
        second_factor_at=second_factor_at,
    )
    session.add(family)
    session.flush()
    return _issue_pair(session, user, family.id, codec, settings)


def _issue_pair(
    session: Session, user: User, family_id: str, codec: TokenCodec, settings: Settings
) -> TokenPair:
    access_ttl = settings.access_token_minutes * 60
    refresh_ttl = settings.refresh_token_days * 86_400
    access, _ = codec.encode(
        subject=str(user.id),
        token_type=TokenType.ACCESS,
        ttl_seconds=access_ttl,
        extra={"fam": family_id},
    )
    refresh, claims = codec.encode(
        subject=str(user.id),
        token_type=TokenType.REFRESH,
        ttl_seconds=refresh_ttl,
        extra={"fam": family_id},
    )
    session.add(
        RefreshToken(
            family_id=family_id,
            token_hash=_token_hash(refresh),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    )
    session.flush()
    return TokenPair(access_token=access, expires_in=access_ttl, refresh_token=refresh)


def rotate_refresh_token(
    session: Session, token: str, codec: TokenCodec, settings: Settings
) -> TokenPair:
    """Spend a refresh token for a new pair; a token spent twice revokes its family."""
    try:
        claims = codec.decode(token, expected=TokenType.REFRESH)
    except InvalidTokenError as exc:
        raise InvalidGrantError("The refresh token is not valid.") from exc
    stored = session.exec(
        select(RefreshToken).where(RefreshToken.token_hash == _token_hash(token))
    ).first()
    if stored is None or stored.family_id != claims.get("fam"):
        raise InvalidGrantError("The refresh token is not valid.")
    spent = session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.id) == stored.id, col(RefreshToken.used_at).is_(None))
        .values(used_at=utcnow())
        .returning(col(RefreshToken.id))
    ).first()
    if spent is None:
        revoke_family(session, stored.family_id, reason="refresh_reused")
        raise RefreshReuseError(
            "This refresh token was already used, so this sign-in has been ended. Sign in again."
        )
    principal = load_principal(session, user_id=int(claims["sub"]), family_id=stored.family_id)
    if principal is None:
        raise InvalidGrantError("This sign-in has ended. Sign in again.")
    session.execute(
        update(RefreshFamily)
        .where(col(RefreshFamily.id) == stored.family_id)
        .values(last_used_at=utcnow())
    )
    return _issue_pair(session, principal.user, stored.family_id, codec, settings)


def revoke_family(session: Session, family_id: str, *, reason: str) -> None:
    """End one sign-in: its refresh tokens and its access tokens stop working."""
    ended = session.execute(
        update(RefreshFamily)
        .where(col(RefreshFamily.id) == family_id, col(RefreshFamily.revoked_at).is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .returning(col(RefreshFamily.user_id))
    ).first()
    if ended is not None:
        record(session, PrincipalChanged(user_id=ended[0]))


def revoke_families(session: Session, *, user_id: int, reason: str, keep: str | None) -> None:
    conditions: list[Any] = [
        col(RefreshFamily.user_id) == user_id,
        col(RefreshFamily.revoked_at).is_(None),
    ]
    if keep is not None:
        conditions.append(col(RefreshFamily.id) != keep)
    session.execute(
        update(RefreshFamily).where(*conditions).values(revoked_at=utcnow(), revoked_reason=reason)
    )
    record(session, PrincipalChanged(user_id=user_id))


def sign_ins(session: Session, user_id: int) -> list[RefreshFamily]:
    """The person's sign-ins that still work, most recently used first."""
    return list(
        session.exec(
            select(RefreshFamily)
            .where(RefreshFamily.user_id == user_id, col(RefreshFamily.revoked_at).is_(None))
            .order_by(col(RefreshFamily.last_used_at).desc(), col(RefreshFamily.created_at).desc())
        )
    )


def end_sign_in(session: Session, *, user_id: int, family_id: str) -> None:
    """End one of the person's own sign-ins (404 for anyone else's, or one already ended)."""
    family = session.get(RefreshFamily, family_id)
    if family is None or family.user_id != user_id or family.revoked_at is not None:
        raise NotFoundError("No such sign-in.")
    revoke_family(session, family_id, reason="ended_by_user")


def load_principal(session: Session, *, user_id: int, family_id: str) -> UserSubject | None:
    """The user behind a token, if the account is active and the sign-in not revoked."""
    row = session.exec(
        select(User, RefreshFamily)
        .join(RefreshFamily, col(RefreshFamily.user_id) == User.id)
        .where(User.id == user_id, RefreshFamily.id == family_id)
    ).first()
    if row is None:
        return None
    user, family = row
    if user.disabled or family.revoked_at is not None:
        return None
    return UserSubject(
        user=user, family_id=family.id, second_factor=family.second_factor_at is not None
    )


def principal_from_claims(session: Session, claims: dict[str, Any]) -> UserSubject:
    """The person behind an access token's checked claims, if account and sign-in still hold."""
    family = claims.get("fam")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise InvalidTokenError("bad subject") from exc
    if not isinstance(family, str):
        raise InvalidTokenError("no sign-in family")
    principal = load_principal(session, user_id=user_id, family_id=family)
    if principal is None:
        raise InvalidTokenError("account disabled or sign-in revoked")
    return principal


# ---------------------------------------------------------------------------
# API clients' credentials (made and revoked by the clinics package)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate_client(session: Session, client_id: str, secret: str) -> ApiClient | None:
    """The API client these credentials belong to, or None; the same work either way."""
    client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
    # Compare even when the id is unknown, so timing says nothing about which ids exist.
    expected = client.secret_hash if client else secret_digest("unknown-client")
    matches = hmac.compare_digest(expected, secret_digest(secret))
    if client is None or not matches or client.revoked_at is not None:
        return None
    return client
