"""Security headers for every response, built once per app.

JSON needs almost nothing from a browser, so the API's policy forbids
everything. The interactive docs are HTML pages that run Swagger UI or ReDoc
from `/docs-static`, with an inline start-up script and inline styles, so
they get a policy that allows exactly that, still same-origin only.
"""

from __future__ import annotations

from app.core.docs import OAUTH2_REDIRECT

Header = tuple[bytes, bytes]

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PAGES = frozenset({"/docs", "/redoc", OAUTH2_REDIRECT})
# Media (thumbnails) is meant to be embedded by apps on other origins; the rest is not.
EMBEDDABLE_PREFIX = "/media/"


class SecurityHeaders:
    """The header lists, prepared once; `for_path` picks one per request."""

    def __init__(self, *, hsts_seconds: int = 0) -> None:
        common: list[Header] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if hsts_seconds > 0:
            # Only when the deployment is HTTPS end to end: browsers remember it.
            hsts = f"max-age={hsts_seconds}; includeSubDomains".encode()
            common.append((b"strict-transport-security", hsts))
        api_policy = (b"content-security-policy", API_POLICY.encode())
        self.api: tuple[Header, ...] = (
            *common,
            api_policy,
            (b"cross-origin-resource-policy", b"same-origin"),
        )
        self.media: tuple[Header, ...] = (
            *common,
            api_policy,
            (b"cross-origin-resource-policy", b"cross-origin"),
        )
        self.docs: tuple[Header, ...] = (
            *common,
            (b"content-security-policy", DOCS_POLICY.encode()),
            (b"cross-origin-resource-policy", b"same-origin"),
        )

    def for_path(self, path: str) -> tuple[Header, ...]:
        if path in DOCS_PAGES:
            return self.docs
        if path.startswith(EMBEDDABLE_PREFIX):
            return self.media
        return self.api
