"""Tables of accounts: users, API tokens, sessions, login attempts, sign-in counters, one-time
login links.

No secret is stored in a form that can be used: passwords as argon2 hashes, API tokens, session
ids and login links as SHA-256 hex digests of random 32-byte values (fast hashing is right for
random secrets; argon2 is for what people choose). Migrations: branch "accounts".
"""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.store.tables import BigId, metadata

users = sa.Table(
    "users", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(150), nullable=False),
    # lower-cased username: unique, so "Alice" and "alice" cannot both exist (portable, no citext)
    sa.Column("username_key", sa.String(150), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255)),  # NULL until the user sets one
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("password_changed_at", sa.Float),
    sa.Column("last_login", sa.Float),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),  # "ddk_" + 8 characters, for people
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
    sa.Column("revoked_by", sa.String(255)),
    # The person the token belongs to (identity_0001): it acts as them, with at most their role.
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE")),
    # "api" (made for a script by `tokens create`) or "login" (minted by `disputedesk login`
    # after the password was checked: it may decide approvals in the CLI).
    sa.Column("kind", sa.String(8), nullable=False, default="api"),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_secret", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Index(None, "user_id"),
    sa.Index(None, "expires_at"),
)

login_attempts = sa.Table(
    "login_attempts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username_key", sa.String(150), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Index(None, "username_key", "at"),
    sa.Index(None, "ip", "at"),
)

login_links = sa.Table(
    "login_links", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float),
    sa.Index(None, "user_id"),
)


# One row per user name ("user:...") or address ("ip:..."): attempts in the window that began at
# window_start. services/signin_limits.py updates it in one conditional statement per attempt.
signin_counters = sa.Table(
    "signin_counters", metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Index(None, "window_start"),
)
