"""Password hashing (argon2id via pwdlib) and the password policy."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from pwdlib import PasswordHash

MIN_LENGTH = 10
MAX_LENGTH = 128

_hasher = PasswordHash.recommended()  # argon2id, m=64 MiB, t=3, p=4
# Verified against when the email is unknown, so a wrong email costs the same as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check `password`; return (valid, new hash when the parameters have changed)."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False, None
    return _hasher.verify_and_update(password, password_hash)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = (files("app.identity") / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


def password_problems(password: str, *, email: str) -> list[str]:
    """Why `password` is not acceptable for the account `email` (empty when it is)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if not password.strip():
        problems.append("must contain something other than spaces")
    folded = password.casefold()
    local_part = email.split("@", 1)[0].casefold()
    if folded in {email.casefold(), local_part}:
        problems.append("must not be your email address")
    if folded in _common_passwords():
        problems.append("is one of the most common passwords; choose another")
    return problems
