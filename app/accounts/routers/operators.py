"""Operators manage accounts: `/v1/admin/users` (admins only, every action audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Response, status

from app.access.policy import Role
from app.accounts import operators
from app.accounts.operators import Account, UserFilter
from app.accounts.schemas import UserAdminOut, UserAdminPage, UserAdminUpdate
from app.authoring.deps import admin_router
from app.core.deps import ReadSessionDep, SessionDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.core.pagination import PageDep, envelope
from app.core.schemas import NO_NUL
from app.identity.deps import AdminDep

router = admin_router()
UserIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The account's id.")]


def _out(account: Account) -> UserAdminOut:
    user = account.user
    assert user.id is not None
    return UserAdminOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=Role(user.role),
        disabled=user.disabled,
        email_verified=user.email_verified,
        created_at=user.created_at,
        active_sign_ins=account.active_sign_ins,
    )


@router.get(
    "/users",
    name="admin_list_users",
    summary="Accounts, oldest first: search by email, role, disabled, verified",
    response_model=UserAdminPage,
    responses=error_responses(422),
)
def list_users(
    session: ReadSessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=320, pattern=NO_NUL, description="Part of the email."),
    ] = None,
    role: Role | None = None,
    disabled: bool | None = None,
    verified: bool | None = None,
) -> dict[str, Any]:
    """Admins only. `q` matches part of the email; filter by `role`, `disabled` and `verified`."""
    where = UserFilter(query=q, role=role, disabled=disabled, verified=verified)
    accounts, total = operators.list_accounts(session, where=where, page=page)
    return envelope([_out(a) for a in accounts], total, page)


@router.get(
    "/users/{user_id}",
    name="admin_get_user",
    summary="One account",
    response_model=UserAdminOut,
    responses=error_responses(404, 422),
)
def get_user(user_id: UserIdPath, session: ReadSessionDep) -> UserAdminOut:
    """Admins only: the account's role, whether it is disabled and verified, and when it was
    made."""
    return _out(operators.get_account(session, user_id))


@router.patch(
    "/users/{user_id}",
    name="admin_update_user",
    summary="Disable or enable an account, or change its role (at once, everywhere)",
    response_model=UserAdminOut,
    responses=error_responses(404, 409, 422),
)
def update_user(
    user_id: UserIdPath, body: UserAdminUpdate, session: SessionDep, admin: AdminDep
) -> UserAdminOut:
    """A disabled account is refused on its very next request: every route, the catalogue,
    refreshing its tokens. The last active administrator cannot be disabled or demoted."""
    operators.update_account(
        session, actor=admin, user_id=user_id, disabled=body.disabled, role=body.role, now=utcnow()
    )
    return _out(operators.get_account(session, user_id))


@router.delete(
    "/users/{user_id}/sign-ins",
    name="admin_end_sign_ins",
    summary="End every sign-in of an account: each device must sign in again",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 422),
)
def end_sign_ins(user_id: UserIdPath, session: SessionDep, admin: AdminDep) -> Response:
    """Admins only. Every token of the account stops working at once; recorded in the audit
    trail."""
    operators.end_sign_ins(session, actor=admin, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
