"""Who may call: accounts, the refresh-token families that keep people signed in, and
clinic systems' API client credentials (made and revoked by the clinics package)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, DateTime, String, Text
from sqlmodel import Field, SQLModel

from app.access.policy import Role
from app.core.models import timestamp_field


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(320), unique=True, nullable=False)
    password_hash: str = Field(sa_type=String(255), nullable=False)
    display_name: str = Field(sa_type=String(100), nullable=False)
    role: Role = Field(default=Role.MEMBER, sa_type=String(16), nullable=False)
    disabled: bool = Field(default=False, nullable=False)
    # When the person proved they receive mail at `email`; None until then.
    email_verified_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class RefreshFamily(SQLModel, table=True):
    """One sign-in on one device: every refresh token rotated from it shares the family.

    Revoking the family (logout, password change, or a reused refresh token)
    ends that sign-in at once, including its access tokens.
    """

    __tablename__ = "refresh_family"

    id: str = Field(sa_type=String(32), primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", nullable=False, index=True, ondelete="CASCADE"
    )
    created_at: datetime = timestamp_field()
    # Refreshed at most every few minutes, so listing sign-ins costs no write per request.
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The device as the client named it, or its User-Agent.
    device: str | None = Field(default=None, sa_type=String(200))
    # When this sign-in passed a second factor (TOTP or a recovery code); None: password only.
    second_factor_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_reason: str | None = Field(default=None, sa_type=String(32))


class RefreshToken(SQLModel, table=True):
    """A refresh token, stored only as a hash; `used_at` marks it spent."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    family_id: str = Field(
        sa_type=String(32),
        foreign_key="refresh_family.id",
        nullable=False,
        index=True,
        ondelete="CASCADE",
    )
    token_hash: str = Field(sa_type=String(64), unique=True, nullable=False)
    issued_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ApiClient(SQLModel, table=True):
    """A clinic system's credentials: a public client id and a secret kept only as a hash."""

    __tablename__ = "api_client"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", nullable=False, index=True, ondelete="CASCADE")
    client_id: str = Field(sa_type=String(64), unique=True, nullable=False)
    secret_hash: str = Field(sa_type=String(255), nullable=False)
    name: str = Field(sa_type=String(200), nullable=False)
    scopes: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a secret)


class AccountToken(SQLModel, table=True):
    """A single-use token sent by mail: it proves an address, or resets a password.

    Only a hash is kept. A verification names the address it proves (the
    registered one, or a new one the person asked to change to); a reset is
    bound to the password hash it was issued against, so it dies with a change.
    """

    __tablename__ = "account_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", nullable=False, index=True, ondelete="CASCADE"
    )
    purpose: TokenPurpose = Field(sa_type=String(16), nullable=False)
    token_hash: str = Field(sa_type=String(64), unique=True, nullable=False)
    email: str = Field(sa_type=String(320), nullable=False)
    bound_to: str | None = Field(default=None, sa_type=String(64))
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class TotpFactor(SQLModel, table=True):
    """A person's authenticator app: the shared secret (sealed), and the last code used.

    Unconfirmed until the person proves the app works by sending a code from it.
    """

    __tablename__ = "totp_factor"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    secret_encrypted: str = Field(sa_type=Text, nullable=False)
    confirmed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The 30-second step of the last code accepted: a code is never accepted twice.
    last_step: int = Field(default=0, nullable=False)
    created_at: datetime = timestamp_field()


class RecoveryCode(SQLModel, table=True):
    """A single-use code that stands in for the authenticator app; kept as a keyed hash."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", nullable=False, index=True, ondelete="CASCADE"
    )
    code_hash: str = Field(sa_type=String(64), unique=True, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
