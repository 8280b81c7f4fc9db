"""A clinic's webhook subscriptions and their delivery logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Path, Request, Response, status

from app.clinics import webhooks
from app.clinics.deps import WebhookManagerDep, clinic_router
from app.clinics.models import WebhookSubscription
from app.clinics.schemas import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookSecretOut,
    WebhookUpdate,
)
from app.core.deps import ReadSessionDep, SessionDep, SettingsDep
from app.core.errors import error_responses
from app.core.models import utcnow
from app.core.pagination import PageDep, envelope
from app.outbox.models import OutboxMessage

router = clinic_router(tags=["clinic webhooks"])
ACTOR_ERRORS = (401, 403, 404, 422)
WebhookIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeliveryIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]

# OpenAPI links from a new subscription to its deliveries and its removal.
WEBHOOK_LINKS = {
    name: {
        "operationId": operation,
        "parameters": {
            "clinic_id": "$request.path.clinic_id",
            "webhook_id": "$response.body#/id",
        },
    }
    for name, operation in (
        ("ListDeliveries", "list_deliveries"),
        ("DeleteWebhook", "delete_webhook"),
    )
}


@router.post(
    "/webhooks",
    name="create_webhook",
    summary="Subscribe an HTTPS URL to events; the signing secret is shown once",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses={
        201: {"description": "Created", "links": WEBHOOK_LINKS},
        **error_responses(401, 403, 404, 409, 422),
    },
)
def create_webhook(
    body: WebhookCreate,
    actor: WebhookManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> WebhookCreated:
    """`https://` URLs on public addresses only (checked now and before each delivery). The
    `whsec_` secret is shown once; deliveries are signed as Standard Webhooks."""
    subscription, secret = webhooks.create_subscription(
        session,
        clinic_id=actor.clinic_id,
        url=body.url,
        event_types=[event.value for event in body.event_types],
        box=webhooks.SECRET_BOX.of(request),
        allow_private=settings.webhook_allow_private_targets,
        limit=settings.webhook_max_subscriptions,
    )
    return WebhookCreated.model_validate({**subscription.model_dump(), "secret": secret})


@router.get(
    "/webhooks",
    name="list_webhooks",
    summary="The clinic's webhook subscriptions",
    response_model=list[WebhookOut],
    responses=error_responses(*ACTOR_ERRORS),
)
def list_webhooks(actor: WebhookManagerDep, session: ReadSessionDep) -> list[WebhookSubscription]:
    """Each subscription's URL, events and whether it is active; never the secret."""
    return webhooks.subscriptions(session, actor.clinic_id)


@router.delete(
    "/webhooks/{webhook_id}",
    name="delete_webhook",
    summary="Delete a webhook subscription and its delivery log",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*ACTOR_ERRORS),
)
def delete_webhook(
    webhook_id: WebhookIdPath, actor: WebhookManagerDep, session: SessionDep
) -> Response:
    """Pending deliveries are dropped with it."""
    session.delete(webhooks.subscription_of(session, actor.clinic_id, webhook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    name="list_deliveries",
    summary="Deliveries of a subscription, newest first",
    response_model=DeliveryPage,
    responses=error_responses(*ACTOR_ERRORS),
)
def list_deliveries(
    webhook_id: WebhookIdPath, actor: WebhookManagerDep, session: ReadSessionDep, page: PageDep
) -> DeliveryPage:
    """Each attempt's status, attempts made and last error class; paged, newest first."""
    subscription = webhooks.subscription_of(session, actor.clinic_id, webhook_id)
    assert subscription.id is not None
    rows, total = webhooks.deliveries(
        session, subscription.id, limit=page.limit, offset=page.offset
    )
    return DeliveryPage.model_validate(envelope(rows, total, page))


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    name="redeliver",
    summary="Send a delivery again (same event id)",
    description="Refused with 409 for a delivery about a patient who withdrew consent.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def redeliver(
    webhook_id: WebhookIdPath,
    delivery_id: DeliveryIdPath,
    actor: WebhookManagerDep,
    session: SessionDep,
) -> OutboxMessage:
    subscription = webhooks.subscription_of(session, actor.clinic_id, webhook_id)
    assert subscription.id is not None
    return webhooks.redeliver(
        session, subscription_id=subscription.id, delivery_id=delivery_id, now=utcnow()
    )


@router.patch(
    "/webhooks/{webhook_id}",
    name="update_webhook",
    summary="Change a subscription's URL, event types or whether it is active",
    response_model=WebhookOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def update_webhook(
    webhook_id: WebhookIdPath,
    body: WebhookUpdate,
    actor: WebhookManagerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookSubscription:
    """Send only what changes. Deactivating it stops deliveries without losing the log."""
    return webhooks.update_subscription(
        session,
        webhooks.subscription_of(session, actor.clinic_id, webhook_id),
        url=body.url,
        event_types=[e.value for e in body.event_types] if body.event_types else None,
        active=body.active,
        allow_private=settings.webhook_allow_private_targets,
    )


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    name="rotate_webhook_secret",
    summary="A new signing secret; the old one keeps signing for a grace period",
    description=(
        "While `WEBHOOK_SECRET_GRACE_HOURS` last, each delivery carries two signatures in "
        "`webhook-signature` (one per secret, space-separated): switch the receiver to the "
        "new secret at any moment in that window without missing a delivery."
    ),
    response_model=WebhookSecretOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def rotate_webhook_secret(
    webhook_id: WebhookIdPath,
    actor: WebhookManagerDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> WebhookSecretOut:
    subscription = webhooks.subscription_of(session, actor.clinic_id, webhook_id)
    secret = webhooks.rotate_secret(
        session,
        subscription,
        box=webhooks.SECRET_BOX.of(request),
        grace=timedelta(hours=settings.webhook_secret_grace_hours),
        now=utcnow(),
    )
    return WebhookSecretOut(
        secret=secret, previous_secret_expires_at=subscription.previous_secret_expires_at
    )


@router.post(
    "/webhooks/{webhook_id}/ping",
    name="ping_webhook",
    summary="Send a `webhook.ping` to this subscription alone: a test of the receiver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=error_responses(*ACTOR_ERRORS),
)
def ping_webhook(
    webhook_id: WebhookIdPath, actor: WebhookManagerDep, session: SessionDep
) -> OutboxMessage:
    """Queues a `webhook.ping` for this subscription only, signed like any delivery; answers 202
    at once."""
    subscription = webhooks.subscription_of(session, actor.clinic_id, webhook_id)
    return webhooks.ping(session, subscription, now=utcnow())
