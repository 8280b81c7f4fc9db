"""One outbox for every channel: webhook deliveries become outbox messages, and mail joins them.

`webhook_delivery` rows move to `outbox_message` with channel `webhook`, filed
under their subscription's clinic (each clinic is sent in a lane of its own) and
under the patient their event is about (so erasing a person erases what is
still owed about them).

Revision ID: b21b4e560a85
Revises: c85415f7515f
Create Date: 2026-12-03 08:22:34.595419
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = 'b21b4e560a85'
down_revision: str | None = 'c85415f7515f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id", "subscription_id", "event_id", "event_type", "payload", "status", "attempts",
    "next_attempt_at", "locked_until", "last_attempt_at", "last_status_code", "last_error",
    "created_at", "delivered_at",
)


def _patient_of(payload: Any) -> int | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    patient = data.get("patient_id") if isinstance(data, dict) else None
    return patient if isinstance(patient, int) else None


def _table(name: str, *extra: str) -> sa.TableClause:
    return sa.table(
        name,
        *(sa.column(column, sa.JSON() if column == "payload" else None) for column in COLUMNS),
        *(sa.column(column) for column in extra),
    )


def upgrade() -> None:
    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('clinic_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_outbox_message_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscription.id'], name=op.f('fk_outbox_message_subscription_id_webhook_subscription'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_outbox_message_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('subscription_id', 'event_id', name=op.f('uq_outbox_message_subscription_id_event_id'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_message_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_message_user_id'), ['user_id'], unique=False)

    connection = op.get_bind()
    old = _table("webhook_delivery")
    people = {row[0] for row in connection.execute(sa.text("SELECT id FROM user_account"))}
    clinic_of = dict(connection.execute(sa.text("SELECT id, clinic_id FROM webhook_subscription")).all())
    rows = []
    for row in connection.execute(sa.select(old)).mappings():
        patient = _patient_of(row["payload"])
        rows.append({
            **row,
            "channel": "webhook",
            "clinic_id": clinic_of.get(row["subscription_id"]),
            "user_id": patient if patient in people else None,
        })
    if rows:
        op.bulk_insert(_table("outbox_message", "channel", "clinic_id", "user_id"), rows)
    if connection.dialect.name == "postgresql" and rows:
        connection.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence('outbox_message', 'id'), "
            "(SELECT MAX(id) FROM outbox_message))"
        ))

    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_due'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_subscription_id'))
    op.drop_table('webhook_delivery')


def downgrade() -> None:
    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscription.id'], name=op.f('fk_webhook_delivery_subscription_id_webhook_subscription'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
    sa.UniqueConstraint('subscription_id', 'event_id', name=op.f('uq_webhook_delivery_subscription_id_event_id'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_due'), ['status', 'next_attempt_at'], unique=False)
    columns = ", ".join(COLUMNS)
    op.execute(
        f"INSERT INTO webhook_delivery ({columns}) SELECT {columns} FROM outbox_message "  # noqa: S608
        "WHERE channel = 'webhook'"
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_message_user_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_message_subscription_id'))
        batch_op.drop_index('ix_outbox_message_due')
    op.drop_table('outbox_message')
