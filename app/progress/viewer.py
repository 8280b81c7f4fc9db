"""The viewer the lock policy takes, assembled from where a person stands.

A signed-in catalogue read needs the stage reached in each program, what
remains before the next (the unlock hints) and the clinics the person works
in. Building that costs a few queries, so each token's viewer is kept for
`VIEWER_CACHE_SECONDS` and forgotten the moment that person's standing or
account changes (`app.core.changes`).
"""

from __future__ import annotations

from app.access.policy import Role, Viewer
from app.catalog.snapshot import CatalogSnapshot
from app.clinics.service import clinic_ids_of
from app.core.db import Database
from app.core.models import utcnow
from app.core.token_cache import TokenCache
from app.identity.auth import Authenticator
from app.identity.deps import person
from app.identity.subject import UserSubject
from app.progress.evaluation import viewer_progress


class Viewers:
    """The catalogue's `ViewerSource`: a token's viewer, remembered for a moment."""

    def __init__(
        self, database: Database, authenticator: Authenticator, *, ttl_seconds: float
    ) -> None:
        self._database = database
        self._authenticator = authenticator
        self.cache = TokenCache[Viewer](ttl_seconds)

    async def viewer(self, token: str, snapshot: CatalogSnapshot) -> Viewer:
        subject = person(await self._authenticator.subject(token))
        return await self.cache.get_or_load(
            token, lambda: self.load(subject, snapshot), lambda _: subject.owner
        )

    def remembered(self, token: str) -> Viewer | None:
        return self.cache.get(token)

    def load(self, subject: UserSubject, snapshot: CatalogSnapshot) -> Viewer:
        """Where `subject` stands now (in a worker thread)."""
        role = subject.role
        with self._database.read_session() as session:
            stages, hints = viewer_progress(
                session, user_id=subject.user_id, snapshot=snapshot, now=utcnow()
            )
            # Only clinicians work in clinics (joining one makes a member a clinician), so
            # members' reads, the common case, cost no extra statement.
            clinic_ids = (
                clinic_ids_of(session, subject.user_id) if role == Role.CLINICIAN else frozenset()
            )
        return Viewer(
            user_id=subject.user_id,
            role=role,
            current_stages=stages,
            stage_hints=hints,
            clinic_ids=clinic_ids,
        )

    def forget_owner(self, owner: object) -> None:
        self.cache.forget_owner(owner)

    def invalidate(self) -> None:
        """The content changed: every viewer's hints may have (rules are content)."""
        self.cache.invalidate()
