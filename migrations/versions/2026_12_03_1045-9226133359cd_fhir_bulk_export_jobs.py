"""FHIR Bulk Data export jobs: who asked, for what, how far it got, the files it wrote.

Revision ID: 9226133359cd
Revises: 42db0ac7b5a4
Create Date: 2026-12-03 09:14:19.701327
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9226133359cd'
down_revision: str | None = '42db0ac7b5a4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fhir_export_job',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('api_client_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request_url', sa.String(length=2000), nullable=False),
    sa.Column('api_root', sa.String(length=300), nullable=False),
    sa.Column('types', sa.JSON(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('progress', sa.String(length=200), nullable=True),
    sa.Column('output', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['api_client_id'], ['api_client.id'], name=op.f('fk_fhir_export_job_api_client_id_api_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_fhir_export_job_clinic_id_clinic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_fhir_export_job_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fhir_export_job'))
    )
    with op.batch_alter_table('fhir_export_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_export_job_clinic_id'), ['clinic_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fhir_export_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fhir_export_job_clinic_id'))

    op.drop_table('fhir_export_job')
