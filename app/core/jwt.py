"""JSON Web Tokens with python-jose, used the safe way (RFC 8725).

python-jose's defaults are permissive: no algorithm allow-list unless given,
no required claims, a future `iat` accepted. Here every decode pins HS256 as a
list, requires `exp iat sub aud iss typ jti`, refuses a future `iat`, and
checks `typ` so an access, refresh or client token never stands in for
another.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jose import jwt
from jose.exceptions import JOSEError

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss", "typ", "jti")


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"
    CLIENT = "client"


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class TokenCodec:
    secret: bytes
    issuer: str
    audience: str
    leeway_seconds: int = 10

    def encode(
        self,
        *,
        subject: str,
        token_type: TokenType,
        ttl_seconds: int,
        extra: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> tuple[str, dict[str, Any]]:
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            **(extra or {}),
            "sub": subject,
            "typ": token_type.value,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "exp": issued + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        token: str = jwt.encode(claims, self.secret, algorithm=ALGORITHM)
        return token, claims

    def decode(self, token: str, *, expected: TokenType | tuple[TokenType, ...]) -> dict[str, Any]:
        """The token's claims, checked; `expected` is the kind (or kinds) it may be."""
        kinds = (expected,) if isinstance(expected, TokenType) else expected
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise InvalidTokenError("unexpected algorithm")
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    **{
                        f"require_{claim}": True
                        for claim in ("exp", "iat", "sub", "aud", "iss", "jti")
                    },
                    "leeway": self.leeway_seconds,
                },
            )
        except (JOSEError, TypeError, ValueError) as exc:
            # python-jose raises TypeError for a signed token whose `exp` or `iat`
            # is not a number; every malformed token must end here, never as a 500.
            raise InvalidTokenError(str(exc)) from exc
        missing = [claim for claim in REQUIRED_CLAIMS if claim not in claims]
        if missing:
            raise InvalidTokenError(f"missing claims: {', '.join(missing)}")
        if claims["typ"] not in {kind.value for kind in kinds}:
            raise InvalidTokenError("wrong token type")
        for claim in ("iat", "exp"):
            if not isinstance(claims[claim], int) or isinstance(claims[claim], bool):
                raise InvalidTokenError(f"{claim} must be a whole number of seconds")
        if claims["iat"] > time.time() + self.leeway_seconds:
            raise InvalidTokenError("issued in the future")
        return claims
