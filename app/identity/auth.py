"""The one authenticator: from a bearer token to the request's `Subject`.

A token is checked against the database (the account and its sign-in family,
or the API client), so a disabled account, a revoked sign-in or a revoked
client stops working as soon as the change is committed: the change events
make every process forget what it remembered of that principal. Between
changes, a checked token is remembered for `VIEWER_CACHE_SECONDS`.
"""

from __future__ import annotations

from sqlmodel import Session

from app.core.db import Database
from app.core.errors import UnauthorizedError
from app.core.jwt import InvalidTokenError, TokenCodec, TokenType
from app.core.state import StateKey
from app.core.token_cache import TokenCache
from app.identity.models import ApiClient
from app.identity.service import principal_from_claims
from app.identity.subject import ANONYMOUS, ClientSubject, Subject, UserSubject

INVALID_TOKEN = "The access token is invalid, expired or revoked. Sign in again."  # noqa: S105


class Authenticator:
    def __init__(self, database: Database, codec: TokenCodec, *, ttl_seconds: float) -> None:
        self._database = database
        self._codec = codec
        self.remembered = TokenCache[UserSubject | ClientSubject](ttl_seconds)

    async def subject(self, token: str | None) -> Subject:
        """The subject behind `token`: anonymous without one, 401 for one that does not hold."""
        if token is None:
            return ANONYMOUS
        return await self.remembered.get_or_load(
            token, lambda: self.load(token), lambda subject: subject.owner
        )

    def load(self, token: str) -> UserSubject | ClientSubject:
        """Check `token` against the database now (in a worker thread)."""
        try:
            claims = self._codec.decode(token, expected=(TokenType.ACCESS, TokenType.CLIENT))
            with self._database.read_session() as session:
                if claims["typ"] == TokenType.CLIENT:
                    return _client_subject(session, claims)
                principal = principal_from_claims(session, claims)
        except InvalidTokenError as exc:
            raise UnauthorizedError(INVALID_TOKEN, invalid_token=True) from exc
        return principal

    def forget_owner(self, owner: object) -> None:
        self.remembered.forget_owner(owner)

    def invalidate(self) -> None:
        """Forget every token (this process may have missed sign-outs made elsewhere)."""
        self.remembered.invalidate()


def _client_subject(session: Session, claims: dict[str, object]) -> ClientSubject:
    try:
        client_pk = int(str(claims["sub"]).removeprefix("client:"))
        clinic_id = int(str(claims["cid"]))
    except (KeyError, ValueError) as exc:
        raise InvalidTokenError("bad client subject") from exc
    client = session.get(ApiClient, client_pk)
    if client is None or client.revoked_at is not None or client.clinic_id != clinic_id:
        raise InvalidTokenError("API client revoked")
    assert client.id is not None
    # The token's scopes, never more than the client still holds.
    scopes = frozenset(str(claims.get("scope", "")).split()) & frozenset(client.scopes)
    return ClientSubject(
        client_pk=client.id,
        client_id=client.client_id,
        name=client.name,
        clinic_id=client.clinic_id,
        scopes=scopes,
    )


AUTHENTICATOR = StateKey[Authenticator]("authenticator")
