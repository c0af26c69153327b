"""The desk's policy, stored once for every process: approval thresholds, daily limits, reminder
schedule, the rules' owner. One row per key; environment variables only seed a missing row.
Migration: settings_0001 (branch "settings")."""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.store.tables import metadata

desk_settings = sa.Table(
    "desk_settings", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
)
