"""The signed-in person's own data: take it all away (export), or erase the account."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import StreamingResponse

from app.accounts import deletion
from app.accounts.export import export_document
from app.accounts.schemas import AccountExport, DeleteAccountIn
from app.core.deps import DATABASE, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.identity.deps import SignedInDep
from app.identity.service import fresh_user

router = APIRouter(prefix="/v1/me", tags=["me"])


@router.get(
    "/export",
    name="export_my_data",
    summary="Everything held about you, as one JSON document (a download)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export, streamed as it is read.",
            "model": AccountExport,
        },
        **error_responses(401),
    },
)
def export_my_data(request: Request, principal: SignedInDep) -> StreamingResponse:
    """Your profile, clinic links and consents, programs with their stage history and who
    changed them, every session and entry, ratings, sign-ins and the mail sent to you."""
    now = utcnow()
    filename = f"rehab-export-{principal.user_id}-{now:%Y%m%d}.json"
    return StreamingResponse(
        export_document(DATABASE.of(request), principal.user_id, now),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.delete(
    "",
    name="delete_me",
    summary="Delete your account and everything about you, at once",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 422),
)
def delete_me(
    session: SessionDep,
    principal: SignedInDep,
    settings: SettingsDep,
    body: DeleteAccountIn,
) -> Response:
    """Immediate and complete: your profile, programs and history, sessions, ratings, clinic
    links, sign-ins, and any mail or clinic notification still owed about you. Every token
    stops working at once. Linked clinics are told only that their patient's account is
    gone. Confirm with your current password, or sign in again and send `{}` within
    `RECENT_SIGN_IN_MINUTES`."""
    now = utcnow()
    user = fresh_user(session, principal.user)
    deletion.check_may_delete(
        session,
        user,
        family_id=principal.family_id,
        current_password=body.current_password,
        recent=timedelta(minutes=settings.recent_sign_in_minutes),
        now=now,
    )
    deletion.delete_account(session, user, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
