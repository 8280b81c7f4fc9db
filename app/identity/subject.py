"""Who is calling: exactly one subject per request.

A request is made by nobody in particular (`Anonymous`), by a signed-in person
(`UserSubject`: a member, clinician or admin, on one sign-in), or by one clinic's
system (`ClientSubject`: an API client with scopes). `Authenticator` makes the
subject from the bearer token; routes say which subjects they admit through the
typed dependencies of `app.identity.deps` (and `app.clinics.deps` for clinics).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.access.policy import Role
from app.core.changes import client_owner, user_owner
from app.identity.models import User


@dataclass(frozen=True, slots=True)
class Anonymous:
    """No bearer token: the public catalogue's reader."""

    @property
    def owner(self) -> str:
        return "anonymous"


@dataclass(frozen=True, slots=True)
class UserSubject:
    """A person, as an access token and the database agree: active account, live sign-in."""

    user: User
    family_id: str
    # Whether this sign-in passed a second factor (an authenticator app or a recovery code).
    second_factor: bool = False

    @property
    def user_id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    @property
    def owner(self) -> str:
        return user_owner(self.user_id)


@dataclass(frozen=True, slots=True)
class ClientSubject:
    """A clinic system acting through its API client: one clinic, the scopes its token carries."""

    client_pk: int
    client_id: str  # the public id (`rc_...`), as the audit trail names it
    name: str
    clinic_id: int
    scopes: frozenset[str]

    @property
    def owner(self) -> str:
        return client_owner(self.client_pk)


Subject = Anonymous | UserSubject | ClientSubject
ANONYMOUS = Anonymous()
