"""Webhook targets, signatures and the secret kept to sign with.

Signature scheme (documented in the README for receivers): each delivery has
`Webhook-Id` (the event id), `Webhook-Timestamp` (Unix seconds) and
`Webhook-Signature: v1=<hex>`, the HMAC-SHA256 of `"{id}.{timestamp}.{body}"`
under the subscription's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from app.core.errors import InvalidInputError


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    message = f"{event_id}.{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SecretBox:
    """Encrypts webhook secrets at rest with a key derived from the service's SECRET_KEY."""

    def __init__(self, secret_key: bytes) -> None:
        key = hashlib.sha256(b"webhook-secrets\x00" + secret_key).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()


def _forbidden_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local  # includes the 169.254.169.254 metadata service
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTargetError(f"The host '{host}' does not resolve.") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class UnsafeTargetError(InvalidInputError):
    """A webhook URL that would reach somewhere it must not (SSRF)."""


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not HTTPS or resolve to loopback, private or metadata addresses.

    Checked when a subscription is made and again before every delivery, so a
    DNS change cannot turn an accepted host into an internal one later.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeTargetError("The webhook URL must be an absolute https:// URL.")
    if parts.username or parts.password:
        raise UnsafeTargetError("The webhook URL must not carry credentials.")
    if allow_private:
        return
    if parts.scheme != "https":
        raise UnsafeTargetError("The webhook URL must use https.")
    for address in resolve_addresses(parts.hostname):
        if _forbidden_address(address):
            raise UnsafeTargetError(
                "The webhook URL resolves to a loopback, private, link-local or reserved address."
            )
