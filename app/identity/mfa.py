"""A second factor: an authenticator app (TOTP, RFC 6238) and single-use recovery codes.

The app's shared secret is sealed under a key derived from SECRET_KEY (it must be
read back to check codes); recovery codes are kept only as a keyed hash. A code
is accepted once: the 30-second step of the last accepted TOTP code is stored,
and spending a recovery code is one conditional UPDATE, so two racing sign-ins
cannot both use the same code.

Enrolment is two steps: `begin_totp` makes a secret and its `otpauth://` URI (for
a QR code), `confirm_totp` switches the factor on once the person sends a code
from the app, and answers the recovery codes, shown this once.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from app.core.changes import PrincipalChanged, record
from app.core.errors import ConflictError, ForbiddenError, InvalidInputError, ProblemError
from app.core.secrets import KeyedHash, SecretBox
from app.core.state import StateKey
from app.identity.mails import MailContext
from app.identity.models import RecoveryCode, RefreshFamily, TotpFactor, User
from app.identity.passwords import verify_password
from app.identity.subject import UserSubject
from app.outbox.mail import enqueue_mail

RECOVERY_CODE_COUNT = 10
STEP_SECONDS = 30
# Codes from the step before and after are accepted too: phones' clocks drift.
DRIFT_STEPS = 1
_NOT_CODE_CHARACTERS = re.compile(r"[\s-]")


class SecondFactorRequiredError(ProblemError):
    """The password was right; this account also needs a code from its authenticator app."""

    status = 400
    type = "/problems/mfa-required"

    def __init__(self) -> None:
        super().__init__(
            "This account uses two-step sign-in: send the code from your authenticator app "
            "(or a recovery code) as `otp`, with the same username and password.",
            extra={"error": "mfa_required"},
        )


class StaffNeedSecondFactorError(ForbiddenError):
    """Admin and clinic routes need a sign-in that passed a second factor."""

    type = "/problems/second-factor-required"


@dataclass(frozen=True, slots=True)
class SecondFactorKeys:
    """The keys a second factor is kept under, both derived from SECRET_KEY."""

    box: SecretBox
    recovery: KeyedHash

    @classmethod
    def from_secret(cls, secret: bytes) -> SecondFactorKeys:
        return cls(
            box=SecretBox(secret, purpose="totp-secrets"),
            recovery=KeyedHash.derive(secret, "recovery-codes"),
        )

    def recovery_digest(self, code: str) -> str:
        return self.recovery.digest(_NOT_CODE_CHARACTERS.sub("", code).lower())


SECOND_FACTOR_KEYS = StateKey[SecondFactorKeys]("second_factor_keys")


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str


@dataclass(frozen=True, slots=True)
class SecondFactorStatus:
    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int
    this_sign_in_verified: bool
    required: bool


def confirmed_factor(session: Session, user_id: int) -> TotpFactor | None:
    factor = session.get(TotpFactor, user_id)
    return factor if factor is not None and factor.confirmed_at is not None else None


def status(session: Session, subject: UserSubject, *, required: bool) -> SecondFactorStatus:
    """Where the person stands; `required`: whether the service holds them to a factor."""
    factor = confirmed_factor(session, subject.user_id)
    left = session.exec(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == subject.user_id, col(RecoveryCode.used_at).is_(None))
    ).one()
    return SecondFactorStatus(
        enabled=factor is not None,
        enabled_at=factor.confirmed_at if factor else None,
        recovery_codes_left=int(left) if factor else 0,
        this_sign_in_verified=subject.second_factor,
        required=required,
    )


def _check_password(user: User, password: str) -> None:
    valid, _ = verify_password(password, user.password_hash)
    if not valid:
        raise InvalidInputError.for_field(
            "body.password", "The password is not correct.", "wrong_password"
        )


def begin_totp(
    session: Session, user: User, *, password: str, keys: SecondFactorKeys, issuer: str
) -> Enrolment:
    """A new authenticator secret for `user`, not yet in force; replaces an unconfirmed one."""
    assert user.id is not None
    _check_password(user, password)
    if confirmed_factor(session, user.id) is not None:
        raise ConflictError(
            "Two-step sign-in is already on. Turn it off first to move to a new app."
        )
    secret = pyotp.random_base32()
    factor = session.get(TotpFactor, user.id) or TotpFactor(user_id=user.id, secret_encrypted="")
    factor.secret_encrypted = keys.box.seal(secret)
    factor.last_step = 0
    session.add(factor)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)
    return Enrolment(secret=secret, otpauth_uri=uri)


def confirm_totp(
    session: Session,
    subject: UserSubject,
    *,
    code: str,
    keys: SecondFactorKeys,
    mail: MailContext,
    now: datetime,
) -> list[str]:
    """Switch the factor on with a code from the app; answers the recovery codes."""
    user = subject.user
    factor = session.get(TotpFactor, subject.user_id)
    if factor is None:
        raise ConflictError("Start with POST /v1/me/mfa/totp: there is no app to confirm.")
    if factor.confirmed_at is not None:
        raise ConflictError("Two-step sign-in is already on.")
    if not _spend_totp(session, factor, code, keys, now):
        raise _wrong_code()
    factor.confirmed_at = now
    session.add(factor)
    codes = _new_recovery_codes(session, subject.user_id, keys)
    # This sign-in has just shown the app works: it counts as having passed the factor.
    _mark_passed(session, subject.family_id, now)
    record(session, PrincipalChanged(user_id=subject.user_id))
    _tell(session, user, mail, now, "Two-step sign-in was turned on for your account.")
    return codes


def disable(
    session: Session,
    subject: UserSubject,
    *,
    password: str,
    code: str,
    keys: SecondFactorKeys,
    mail: MailContext,
    now: datetime,
) -> None:
    """Turn the factor off: both the password and a current code (or a recovery code)."""
    user = subject.user
    _check_password(user, password)
    if confirmed_factor(session, subject.user_id) is None:
        raise ConflictError("Two-step sign-in is not on.")
    if not verify(session, user, code, keys, now):
        raise _wrong_code()
    session.execute(delete(TotpFactor).where(col(TotpFactor.user_id) == subject.user_id))
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == subject.user_id))
    session.execute(
        update(RefreshFamily)
        .where(col(RefreshFamily.user_id) == subject.user_id)
        .values(second_factor_at=None)
    )
    record(session, PrincipalChanged(user_id=subject.user_id))
    _tell(session, user, mail, now, "Two-step sign-in was turned off for your account.")


def renew_recovery_codes(
    session: Session,
    subject: UserSubject,
    *,
    code: str,
    keys: SecondFactorKeys,
    mail: MailContext,
    now: datetime,
) -> list[str]:
    """A fresh set of recovery codes for a current code; the old set stops working."""
    if confirmed_factor(session, subject.user_id) is None:
        raise ConflictError("Two-step sign-in is not on.")
    if not verify(session, subject.user, code, keys, now):
        raise _wrong_code()
    codes = _new_recovery_codes(session, subject.user_id, keys)
    _tell(session, subject.user, mail, now, "New recovery codes were made; the old ones stopped.")
    return codes


def verify(session: Session, user: User, code: str, keys: SecondFactorKeys, now: datetime) -> bool:
    """Spend `code` (an app code or a recovery code) for `user`'s confirmed factor."""
    assert user.id is not None
    factor = confirmed_factor(session, user.id)
    if factor is None:
        return False
    if _spend_totp(session, factor, code, keys, now):
        return True
    return _spend_recovery_code(session, user.id, code, keys, now)


def _mark_passed(session: Session, family_id: str, now: datetime) -> None:
    """Record that this sign-in passed the second factor."""
    session.execute(
        update(RefreshFamily).where(col(RefreshFamily.id) == family_id).values(second_factor_at=now)
    )


def _spend_totp(
    session: Session, factor: TotpFactor, code: str, keys: SecondFactorKeys, now: datetime
) -> bool:
    code = _NOT_CODE_CHARACTERS.sub("", code)
    if not (len(code) == 6 and code.isdigit()):
        return False
    totp = pyotp.TOTP(keys.box.open(factor.secret_encrypted))
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            # Only a step later than the last one used: a code seen once never works again.
            spent = session.execute(
                update(TotpFactor)
                .where(col(TotpFactor.user_id) == factor.user_id, col(TotpFactor.last_step) < step)
                .values(last_step=step)
                .returning(col(TotpFactor.user_id))
            ).first()
            return spent is not None
    return False


def _spend_recovery_code(
    session: Session, user_id: int, code: str, keys: SecondFactorKeys, now: datetime
) -> bool:
    spent = session.execute(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user_id,
            col(RecoveryCode.code_hash) == keys.recovery_digest(code),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=now)
        .returning(col(RecoveryCode.id))
    ).first()
    return spent is not None


def _new_recovery_codes(session: Session, user_id: int, keys: SecondFactorKeys) -> list[str]:
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=keys.recovery_digest(code)) for code in codes
    )
    session.flush()
    return codes


def _recovery_code() -> str:
    """Ten lowercase hex characters in two groups (40 bits): easy to type from paper."""
    text = secrets.token_hex(5)
    return f"{text[:5]}-{text[5:]}"


def _wrong_code() -> InvalidInputError:
    return InvalidInputError.for_field(
        "body.code", "The code is not correct, or was already used.", "wrong_code"
    )


def _tell(session: Session, user: User, mail: MailContext, now: datetime, what: str) -> None:
    notice = mail.render("second_factor", to=user.email, name=user.display_name, what=what)
    enqueue_mail(session, mail=notice, user_id=user.id, now=now)
