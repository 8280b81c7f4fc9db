"""The signing secret: strong in production, generated and kept locally in development."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from app.core.config import Environment, Settings

MIN_SECRET_BYTES = 32
_KNOWN_PLACEHOLDERS = {"changethis", "change-me", "changeme", "secret", "dev", "development"}


class InsecureSecretError(RuntimeError):
    """The service refuses to start with a weak secret outside development."""


def resolve_secret_key(settings: Settings) -> bytes:
    configured = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if configured:
        _refuse_weak(configured)
        return configured.encode()
    if settings.environment is Environment.PRODUCTION:
        raise InsecureSecretError(
            "SECRET_KEY is not set. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return _local_secret(settings.data_dir / "secret_key").encode()


def _refuse_weak(secret: str) -> None:
    if secret.strip().lower() in _KNOWN_PLACEHOLDERS or len(secret.encode()) < MIN_SECRET_BYTES:
        raise InsecureSecretError(
            f"SECRET_KEY must be at least {MIN_SECRET_BYTES} random bytes, not a placeholder."
        )


def _local_secret(path: Path) -> str:
    """A development secret kept under DATA_DIR so restarts keep tokens and links valid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        secret = secrets.token_urlsafe(48)
        handle.write(secret)
    return secret


@dataclass(frozen=True, slots=True)
class KeyedHash:
    """HMAC-SHA256 under a key derived from SECRET_KEY for one purpose: short codes kept this
    way cannot be tried offline from a copy of the table alone."""

    key: bytes

    @classmethod
    def derive(cls, secret: bytes, purpose: str) -> KeyedHash:
        return cls(hashlib.sha256(purpose.encode() + b"\x00" + secret).digest())

    def digest(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


class SecretBox:
    """Seals secrets the service must read back (webhook signing secrets, authenticator
    keys) under a key derived from SECRET_KEY for one purpose: a copy of the database
    alone does not reveal them."""

    def __init__(self, secret_key: bytes, *, purpose: str) -> None:
        key = hashlib.sha256(purpose.encode() + b"\x00" + secret_key).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()
