"""Media links: public teaser images, and signed, expiring links for premium video.

A signed link carries its expiry and an HMAC over key and expiry, so a copied
link stops working when it expires and cannot be bent to another file.
Expiries are rounded up to a bucket so a viewer's links (and so the response
and its ETag) stay the same for a few minutes at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson

EXPIRY_BUCKET_SECONDS = 300


class MediaSigner:
    def __init__(self, secret: bytes, *, base_url: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        self._ttl_seconds = ttl_seconds
        # Links are the same for everyone until the expiry bucket turns, so each is
        # signed and encoded once per bucket rather than once per exercise per request.
        self._encoded: dict[str, bytes] = {}
        self._encoded_expiry = 0

    def public_url(self, key: str) -> str:
        return f"{self._base_url}/{quote(key)}"

    def signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def current_expiry(self, *, now: float | None = None) -> int:
        """The expiry every link signed now gets (so it also marks a response's version)."""
        moment = time.time() if now is None else now
        buckets = math.ceil((moment + self._ttl_seconds) / EXPIRY_BUCKET_SECONDS)
        return buckets * EXPIRY_BUCKET_SECONDS

    def sign(self, key: str, *, now: float | None = None) -> dict[str, Any]:
        """A link to `key` that works until the returned `expires_at`."""
        return self._link(key, self.current_expiry(now=now))

    def signed_url(self, key: str, expires: int) -> str:
        """A link to `key` that works until `expires` (a Unix time the caller chose)."""
        return str(self._link(key, expires)["url"])

    def _link(self, key: str, expires: int) -> dict[str, Any]:
        query = urlencode({"expires": expires, "signature": self.signature(key, expires)})
        return {
            "url": f"{self.public_url(key)}?{query}",
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
        }

    def sign_json(self, key: str) -> bytes:
        """`sign(key)` as JSON bytes, from memory until the expiry bucket turns."""
        expires = self.current_expiry()
        if expires != self._encoded_expiry:
            self._encoded = {}
            self._encoded_expiry = expires
        encoded = self._encoded.get(key)
        if encoded is None:
            encoded = orjson.dumps(self._link(key, expires))
            self._encoded[key] = encoded
        return encoded

    def verify(self, key: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        """True when the signature matches key and expiry and the expiry has not passed."""
        moment = time.time() if now is None else now
        expected = self.signature(key, expires)
        # As bytes: compare_digest refuses str with non-ASCII characters (a forged query).
        return hmac.compare_digest(expected.encode(), signature.encode()) and expires > moment
