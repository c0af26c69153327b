"""A token is its owner, never more: over HTTP, a token acts with at most its owner's current
role, stops when the owner is disabled, and every change to users and tokens is audited with
the person and the door, and shown (REST and the dashboard's audit page)."""

from __future__ import annotations

import pytest

from identity_desk import (  # noqa: F401 - the fixtures this module uses
    _cheap_argon2,
    bearer,
    desk,
    emulator,
    pay,
    person,
    run_cli,
    server,
    wait_until,
)

from disputedesk.errors import PermissionDenied
from disputedesk.services import accounts


def test_a_token_asking_for_more_than_its_owner_has_is_refused(desk):
    accounts.create_user(desk, username="ana", role="agent")
    with pytest.raises(PermissionDenied, match="ana is agent, the token asks for admin"):
        accounts.create_token(desk, name="escalate", role="admin", owner="ana")
    assert accounts.list_tokens(desk) == []


def test_a_token_keeps_acting_with_its_old_role_after_its_owner_is_lowered_is_refused(
        desk, person, bearer, emulator):
    root = person("root", "admin")
    accounts.create_user(desk, username="ana", role="approver")
    _info, secret = accounts.create_token(desk, name="ana-bot", role="approver", owner="ana")
    ana_bot = bearer(secret)
    assert ana_bot.get("/api/v1/me").json()["role"] == "approver"
    assert root.patch("/api/v1/users/ana", json={"role": "viewer"}).status_code == 200
    assert ana_bot.get("/api/v1/me").json()["role"] == "viewer"
    refused = ana_bot.post("/api/v1/refunds", json={"target": pay(emulator, 2000)})
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "permission_denied"


def test_a_disabled_persons_token_still_getting_in_is_refused(desk, person, bearer):
    root = person("root", "admin")
    accounts.create_user(desk, username="ana", role="agent")
    _info, secret = accounts.create_token(desk, name="ana-bot", role="agent", owner="ana")
    ana_bot = bearer(secret)
    assert ana_bot.get("/api/v1/me").status_code == 200
    assert root.patch("/api/v1/users/ana", json={"disabled": True}).status_code == 200
    refused = ana_bot.get("/api/v1/me")
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]["message"]


def test_a_token_nobody_owns_acting_as_itself_is_refused(desk, bearer):
    """Tokens made before tokens had owners (identity_0001 leaves them ownerless) act for nobody."""
    import sqlalchemy as sa

    from disputedesk.store.accounts_tables import api_tokens

    accounts.create_user(desk, username="ana", role="agent")
    info, secret = accounts.create_token(desk, name="old", role="agent", owner="ana")
    with desk.store.write() as conn:
        conn.execute(sa.update(api_tokens).values(user_id=None))
    assert bearer(secret).get("/api/v1/me").status_code == 401


def test_hiding_user_and_token_changes_from_the_audit_log_is_not_possible(
        desk, person, server):
    root = person("root", "admin")
    assert root.post("/api/v1/users", json={"username": "newbie", "role": "agent"}
                     ).status_code == 201
    assert root.patch("/api/v1/users/newbie", json={"role": "approver"}).status_code == 200
    made = root.post("/api/v1/tokens", json={"name": "nightly", "role": "viewer"}).json()
    assert root.delete(f"/api/v1/tokens/{made['token']['id']}").status_code == 200
    entries = root.get("/api/v1/audit", params={"person": "root"}).json()
    seen = {(e["action"], e["door"], e["credential"]) for e in entries}
    assert {(action, "rest", "session") for action in (
        "user.created", "user.role_changed", "token.created", "token.revoked")} <= seen
    created = next(e for e in entries if e["action"] == "token.created")
    assert created["details"]["owner"] == "root" and made["secret"] not in str(entries)
    page = root.get("/audit")
    assert page.status_code == 200
    for text in ("user.created", "user.role_changed", "token.created", "token.revoked",
                 "rest"):
        assert text in page.text


def test_a_bulk_file_run_in_the_background_losing_who_started_it_is_not_possible(
        desk, bearer, emulator):
    import sqlalchemy as sa

    from disputedesk.store.tables import audit_log

    accounts.create_user(desk, username="ann", role="approver")
    info, secret = accounts.create_token(desk, name="ann-bulk", role="approver", owner="ann")
    ann = bearer(secret)
    charges = [pay(emulator, 2000) for _ in range(2)]
    data = "charge,amount\n" + "".join(f"{c},5.00\n" for c in charges)
    started = ann.post("/api/v1/refunds/bulk", files={"file": ("r.csv", data)})
    assert started.status_code == 202, started.text
    job = started.json()["job_id"]
    assert wait_until(lambda: ann.get(f"/api/v1/refunds/bulk/{job}").json()["job"]["status"]
                      == "done")
    with desk.store.read() as conn:
        rows = conn.execute(sa.select(audit_log.c.person, audit_log.c.door, audit_log.c.credential)
                            .where(audit_log.c.action == "refund.requested")).all()
    assert [tuple(r) for r in rows] == [("ann", "rest", info["id"])] * 2
