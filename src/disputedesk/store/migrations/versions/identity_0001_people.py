"""identity: tokens belong to people, audit rows name the person and the door

Revision ID: identity_0001
Revises: accounts_0001, refunds_0002 (it changes tables of both, so it follows both)
Create Date: 2026-12-08

- ``api_tokens.user_id``: the person a token belongs to (existing tokens: the user who created
  them, when that name is a desk user; other tokens have no owner and are refused from now on).
- ``api_tokens.kind``: ``api`` or ``login`` (minted by ``disputedesk login``).
- ``audit_log.person``, ``door``, ``credential``: who is answerable and what they came through.
- ``refund_requests.requester_person``: the person maker-checker compares (existing rows: the
  requester's name).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = ("accounts_0001", "refunds_0002")
branch_labels = ("identity",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("user_id", _ID, nullable=True))
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="api"))
        batch.create_foreign_key("fk_api_tokens_user_id_users", "users", ["user_id"], ["id"],
                                 ondelete="CASCADE")
    op.execute("UPDATE api_tokens SET user_id = (SELECT users.id FROM users "
               "WHERE users.username_key = lower(api_tokens.created_by))")
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("person", sa.String(150), nullable=True))
        batch.add_column(sa.Column("door", sa.String(16), nullable=True))
        batch.add_column(sa.Column("credential", sa.String(100), nullable=True))
    with op.batch_alter_table("refund_requests") as batch:
        batch.add_column(sa.Column("requester_person", sa.String(150), nullable=True))
    op.execute("UPDATE refund_requests SET requester_person = requested_by")


def downgrade() -> None:
    with op.batch_alter_table("refund_requests") as batch:
        batch.drop_column("requester_person")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("credential")
        batch.drop_column("door")
        batch.drop_column("person")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("fk_api_tokens_user_id_users", type_="foreignkey")
        batch.drop_column("kind")
        batch.drop_column("user_id")
