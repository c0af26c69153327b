"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=True),
    sa.Column('object_id', sa.String(length=255), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_object_type_object_id_at'), ['object_type', 'object_id', 'at'], unique=False)

    op.create_table('charges',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=True),
    sa.Column('stripe_updated', sa.BigInteger(), nullable=False),
    sa.Column('stripe_rank', sa.BigInteger(), nullable=False),
    sa.Column('mirrored_at', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('amount_captured', sa.BigInteger(), nullable=True),
    sa.Column('amount_refunded', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('customer', sa.String(length=255), nullable=True),
    sa.Column('payment_intent', sa.String(length=255), nullable=True),
    sa.Column('disputed', sa.Boolean(), nullable=True),
    sa.Column('refunded', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charges'))
    )
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charges_created'), ['created'], unique=False)
        batch_op.create_index(batch_op.f('ix_charges_customer_created'), ['customer', 'created'], unique=False)
        batch_op.create_index(batch_op.f('ix_charges_payment_intent'), ['payment_intent'], unique=False)

    op.create_table('disputes',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=True),
    sa.Column('stripe_updated', sa.BigInteger(), nullable=False),
    sa.Column('stripe_rank', sa.BigInteger(), nullable=False),
    sa.Column('mirrored_at', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('charge', sa.String(length=255), nullable=True),
    sa.Column('payment_intent', sa.String(length=255), nullable=True),
    sa.Column('due_by', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes'))
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_charge'), ['charge'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_created'), ['created'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_status_due_by'), ['status', 'due_by'], unique=False)

    op.create_table('early_fraud_warnings',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=True),
    sa.Column('stripe_updated', sa.BigInteger(), nullable=False),
    sa.Column('stripe_rank', sa.BigInteger(), nullable=False),
    sa.Column('mirrored_at', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actionable', sa.Boolean(), nullable=True),
    sa.Column('fraud_type', sa.String(length=64), nullable=True),
    sa.Column('charge', sa.String(length=255), nullable=True),
    sa.Column('payment_intent', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_early_fraud_warnings'))
    )
    with op.batch_alter_table('early_fraud_warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_early_fraud_warnings_actionable_created'), ['actionable', 'created'], unique=False)
        batch_op.create_index(batch_op.f('ix_early_fraud_warnings_charge'), ['charge'], unique=False)

    op.create_table('events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=128), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('api_version', sa.String(length=64), nullable=True),
    sa.Column('object_type', sa.String(length=64), nullable=True),
    sa.Column('object_id', sa.String(length=255), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('processed_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_events')),
    sa.UniqueConstraint('id', name=op.f('uq_events_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_object_type_object_id'), ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_type_created'), ['type', 'created'], unique=False)

    op.create_table('files',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=True),
    sa.Column('stripe_updated', sa.BigInteger(), nullable=False),
    sa.Column('stripe_rank', sa.BigInteger(), nullable=False),
    sa.Column('mirrored_at', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files'))
    )
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_files_purpose_created'), ['purpose', 'created'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('run_at', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('locked_until', sa.Float(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_jobs_dedupe_key'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_name_status'), ['name', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_status_run_at'), ['status', 'run_at'], unique=False)

    op.create_table('payment_intents',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=True),
    sa.Column('stripe_updated', sa.BigInteger(), nullable=False),
    sa.Column('stripe_rank', sa.BigInteger(), nullable=False),
    sa.Column('mirrored_at', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('amount_received', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('customer', sa.String(length=255), nullable=True),
    sa.Column('latest_charge', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_intents'))
    )
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_intents_created'), ['created'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_intents_customer_created'), ['customer', 'created'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=True),
    sa.Column('stripe_updated', sa.BigInteger(), nullable=False),
    sa.Column('stripe_rank', sa.BigInteger(), nullable=False),
    sa.Column('mirrored_at', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('charge', sa.String(length=255), nullable=True),
    sa.Column('payment_intent', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_charge'), ['charge'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_payment_intent'), ['payment_intent'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_status_created'), ['status', 'created'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_status_created'))
        batch_op.drop_index(batch_op.f('ix_refunds_payment_intent'))
        batch_op.drop_index(batch_op.f('ix_refunds_charge'))

    op.drop_table('refunds')
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_intents_customer_created'))
        batch_op.drop_index(batch_op.f('ix_payment_intents_created'))

    op.drop_table('payment_intents')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status_run_at'))
        batch_op.drop_index(batch_op.f('ix_jobs_name_status'))

    op.drop_table('jobs')
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_files_purpose_created'))

    op.drop_table('files')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_type_created'))
        batch_op.drop_index(batch_op.f('ix_events_status_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_events_received_at'))
        batch_op.drop_index(batch_op.f('ix_events_object_type_object_id'))

    op.drop_table('events')
    with op.batch_alter_table('early_fraud_warnings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_early_fraud_warnings_charge'))
        batch_op.drop_index(batch_op.f('ix_early_fraud_warnings_actionable_created'))

    op.drop_table('early_fraud_warnings')
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disputes_status_due_by'))
        batch_op.drop_index(batch_op.f('ix_disputes_created'))
        batch_op.drop_index(batch_op.f('ix_disputes_charge'))

    op.drop_table('disputes')
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charges_payment_intent'))
        batch_op.drop_index(batch_op.f('ix_charges_customer_created'))
        batch_op.drop_index(batch_op.f('ix_charges_created'))

    op.drop_table('charges')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_object_type_object_id_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')

