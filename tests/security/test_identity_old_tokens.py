"""Upgrading a desk whose tokens were their own identity (before identity_0001): a token made by
a desk user becomes that user's; one nobody answers for is refused instead of acting for nobody.
On SQLite and PostgreSQL, from the schema before the migration."""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.config import Settings
from disputedesk.services import accounts
from disputedesk.store import make_engine, migrate
from disputedesk.store.migrate import current_revisions, head_revisions
from disputedesk.wiring import build_deps


def test_an_old_ownerless_token_acting_after_the_upgrade_is_refused(empty_database_url, tmp_path):
    engine = make_engine(empty_database_url)
    for revision in ("accounts_0001", "refunds_0002"):
        migrate(engine, revision)
    ours, orphan = "ddk_" + "a" * 43, "ddk_" + "b" * 43
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (username, username_key, role, disabled, created_at) "
            "VALUES ('Alice', 'alice', 'agent', false, 1)"))
        for name, secret, creator in (("alice-bot", ours, "Alice"), ("legacy", orphan, "ops")):
            conn.execute(sa.text(
                "INSERT INTO api_tokens (name, token_hash, prefix, role, created_by, created_at) "
                "VALUES (:n, :h, :p, 'admin', :c, 1)"),
                {"n": name, "h": accounts.digest(secret), "p": secret[:12], "c": creator})
    migrate(engine)
    assert current_revisions(engine) == head_revisions()
    engine.dispose()
    deps = build_deps(Settings(database_url=empty_database_url, data_dir=tmp_path),
                      gateway_factory=None, migrate=False)
    try:
        alice = accounts.authenticate_token(deps, ours)
        # Hers now, and never more than she is: the token said admin, alice is an agent.
        assert (alice.username, alice.role) == ("Alice", "agent")
        assert accounts.authenticate_token(deps, orphan) is None
        assert {t["name"]: t["owner"] for t in accounts.list_tokens(deps)} == {
            "alice-bot": "Alice", "legacy": None}
    finally:
        deps.close()
