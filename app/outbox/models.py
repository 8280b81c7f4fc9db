"""The outbox: every message the service owes someone, written with the change that caused it.

One table for every channel (webhook deliveries to clinics, mail to people), so
one worker claims, sends, retries and records them all: a message is written in
the same transaction as the change, or not at all, and sent at least once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import timestamp_field


class Channel(StrEnum):
    WEBHOOK = "webhook"
    MAIL = "mail"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    # No longer owed: the patient withdrew consent before it went out.
    CANCELLED = "cancelled"


class OutboxMessage(SQLModel, table=True):
    """One message for one recipient: a webhook subscription, or a person's mailbox."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(default=Channel.WEBHOOK, sa_type=String(16), nullable=False)
    # A webhook's subscription (deleting it deletes its deliveries).
    subscription_id: int | None = Field(
        default=None, foreign_key="webhook_subscription.id", index=True, ondelete="CASCADE"
    )
    # The clinic a webhook delivery goes to: each clinic's deliveries are sent in a lane of
    # their own, so a slow receiver delays only its clinic.
    clinic_id: int | None = Field(default=None, foreign_key="clinic.id", ondelete="CASCADE")
    # Whom the message is about: erasing the person erases what is still owed about them.
    user_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="CASCADE"
    )
    event_id: str = Field(sa_type=String(36), nullable=False)
    event_type: str = Field(sa_type=String(32), nullable=False)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    status: DeliveryStatus = Field(
        default=DeliveryStatus.PENDING, sa_type=String(16), nullable=False
    )
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime = timestamp_field()
    locked_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=String(500))
    created_at: datetime = timestamp_field()
    delivered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
