"""disputes: work state, evidence drafts/fields/files, reminders, submissions, outcomes, orders

Revision ID: disputes_0001
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "disputes_0001"
down_revision = "0001"
branch_labels = ("disputes",)
depends_on = None


_OPEN = ("status IN ('warning_needs_response', 'warning_under_review', 'needs_response', "
         "'under_review', 'appeal_needs_response', 'appeal_under_review')")


def upgrade() -> None:
    # Partial indexes on the mirror's disputes for the inbox (see store/disputes_tables.py).
    op.create_index("ix_disputes_open_due_by", "disputes", ["due_by", "id"],
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    op.create_index("ix_disputes_open_currency_amount", "disputes", ["currency", "amount"],
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    op.create_table('dispute_outcomes',
    sa.Column('dispute_id', sa.String(length=255), nullable=False),
    sa.Column('result', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('withdrawn', sa.BigInteger(), nullable=False),
    sa.Column('reinstated', sa.BigInteger(), nullable=False),
    sa.Column('dispute_fee', sa.BigInteger(), nullable=False),
    sa.Column('dispute_fee_returned', sa.BigInteger(), nullable=False),
    sa.Column('countered_fee', sa.BigInteger(), nullable=False),
    sa.Column('countered_fee_returned', sa.BigInteger(), nullable=False),
    sa.Column('net', sa.BigInteger(), nullable=False),
    sa.Column('countered', sa.Boolean(), nullable=False),
    sa.Column('full_win', sa.Boolean(), nullable=True),
    sa.Column('notes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('balance_transactions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('recorded_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id', name=op.f('pk_dispute_outcomes'))
    )
    with op.batch_alter_table('dispute_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispute_outcomes_result_recorded_at'), ['result', 'recorded_at'], unique=False)

    op.create_table('dispute_reminders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.String(length=255), nullable=False),
    sa.Column('due_by', sa.BigInteger(), nullable=False),
    sa.Column('offset_seconds', sa.BigInteger(), nullable=False),
    sa.Column('remind_at', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('pending_channels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('failures', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('claimed_at', sa.Float(), nullable=True),
    sa.Column('sent_at', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_reminders')),
    sa.UniqueConstraint('dispute_id', 'due_by', 'offset_seconds', name=op.f('uq_dispute_reminders_dispute_id_due_by_offset_seconds'))
    )
    with op.batch_alter_table('dispute_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispute_reminders_status_remind_at'), ['status', 'remind_at'], unique=False)

    op.create_table('dispute_submissions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('once_key', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('finished_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_submissions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_dispute_submissions_idempotency_key')),
    sa.UniqueConstraint('once_key', name=op.f('uq_dispute_submissions_once_key'))
    )
    with op.batch_alter_table('dispute_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispute_submissions_dispute_id_id'), ['dispute_id', 'id'], unique=False)

    op.create_table('dispute_work',
    sa.Column('dispute_id', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('stripe_status', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('due_by', sa.BigInteger(), nullable=True),
    sa.Column('is_inquiry', sa.Boolean(), nullable=False),
    sa.Column('card_brand', sa.String(length=32), nullable=True),
    sa.Column('network_reason_code', sa.String(length=32), nullable=True),
    sa.Column('hand_edited', sa.Boolean(), nullable=False),
    sa.Column('hand_edited_by', sa.String(length=255), nullable=True),
    sa.Column('product_type', sa.String(length=32), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('evidence_changed_at', sa.Float(), nullable=True),
    sa.Column('evidence_version', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('submitted_at', sa.Float(), nullable=True),
    sa.Column('submitted_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id', name=op.f('pk_dispute_work'))
    )
    with op.batch_alter_table('dispute_work', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispute_work_state_due_by'), ['state', 'due_by'], unique=False)

    op.create_table('evidence_drafts',
    sa.Column('dispute_id', sa.String(length=255), nullable=False),
    sa.Column('product_type', sa.String(length=32), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('missing', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('ce3', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('packet', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('notes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('order_id', sa.String(length=255), nullable=True),
    sa.Column('built_version', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('built_by', sa.String(length=255), nullable=False),
    sa.Column('built_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id', name=op.f('pk_evidence_drafts'))
    )
    op.create_table('evidence_fields',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.String(length=255), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('edited_by', sa.String(length=255), nullable=False),
    sa.Column('edited_at', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_fields'))
    )
    with op.batch_alter_table('evidence_fields', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_fields_dispute_id_field_id'), ['dispute_id', 'field', 'id'], unique=False)

    op.create_table('evidence_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.String(length=255), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('stripe_file_id', sa.String(length=255), nullable=True),
    sa.Column('added_by', sa.String(length=255), nullable=False),
    sa.Column('added_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_files'))
    )
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_files_dispute_id_kind_active'), ['dispute_id', 'kind', 'active'], unique=False)

    op.create_table('evidence_text_templates',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=255), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_evidence_text_templates'))
    )
    op.create_table('orders',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('charge', sa.String(length=255), nullable=True),
    sa.Column('payment_intent', sa.String(length=255), nullable=True),
    sa.Column('customer_email', sa.String(length=320), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('created', sa.BigInteger(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('imported_by', sa.String(length=255), nullable=False),
    sa.Column('imported_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_charge'), ['charge'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_customer_email'), ['customer_email'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_payment_intent'), ['payment_intent'], unique=False)



def downgrade() -> None:
    op.drop_index("ix_disputes_open_currency_amount", table_name="disputes")
    op.drop_index("ix_disputes_open_due_by", table_name="disputes")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_payment_intent'))
        batch_op.drop_index(batch_op.f('ix_orders_customer_email'))
        batch_op.drop_index(batch_op.f('ix_orders_charge'))

    op.drop_table('orders')
    op.drop_table('evidence_text_templates')
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_files_dispute_id_kind_active'))

    op.drop_table('evidence_files')
    with op.batch_alter_table('evidence_fields', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_fields_dispute_id_field_id'))

    op.drop_table('evidence_fields')
    op.drop_table('evidence_drafts')
    with op.batch_alter_table('dispute_work', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispute_work_state_due_by'))

    op.drop_table('dispute_work')
    with op.batch_alter_table('dispute_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispute_submissions_dispute_id_id'))

    op.drop_table('dispute_submissions')
    with op.batch_alter_table('dispute_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispute_reminders_status_remind_at'))

    op.drop_table('dispute_reminders')
    with op.batch_alter_table('dispute_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispute_outcomes_result_recorded_at'))

    op.drop_table('dispute_outcomes')
