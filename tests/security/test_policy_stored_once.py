"""One policy, stored once: the server process was started with DISPUTEDESK_APPROVAL_THRESHOLD
of 100.00 USD; CLI processes started with other environments enforce the stored value too, and
a change made by an admin over REST holds at once for every process."""

from __future__ import annotations

import json

import sqlalchemy as sa

from identity_desk import (  # noqa: F401 - the fixtures this module uses
    _cheap_argon2,
    bearer,
    desk,
    emulator,
    pay,
    person,
    run_cli,
    server,
)

from disputedesk.services import policy
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.store.tables import audit_log
from disputedesk.testing import cli_token


def _status_of(desk, charge: str) -> str:
    with desk.store.read() as conn:
        return conn.execute(sa.select(refund_requests.c.status).where(
            refund_requests.c.charge == charge)).scalar_one()


def test_a_cli_started_with_a_looser_threshold_refunding_past_the_desks_limit_is_held(
        desk, server, database_url, run_cli, emulator):
    agent = {"DISPUTEDESK_TOKEN": cli_token(database_url, "ana", "agent")}
    charge = pay(emulator, 20_000)
    done = run_cli("refund", charge, "--amount", "106", "--json",
                   env={**agent, "DISPUTEDESK_APPROVAL_THRESHOLD": "1000.00 USD"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["request"]["status"] == "awaiting_approval"
    assert "above the approval threshold of 100.00 USD" in json.loads(done.stdout)["request"]["approval_reason"]
    # And one started with no threshold at all: the same.
    other = pay(emulator, 20_000)
    run_cli("refund", other, "--amount", "106",
            env={**agent, "DISPUTEDESK_APPROVAL_THRESHOLD": ""})
    assert _status_of(desk, other) == "awaiting_approval"
    shown = json.loads(run_cli("settings", "show", "--json",
                               env={"DISPUTEDESK_APPROVAL_THRESHOLD": "1 USD"}).stdout)
    assert {r["key"]: r["value"] for r in shown}["approval_threshold"] == "100.00 USD"


def test_a_change_over_rest_holds_at_once_in_the_server_and_in_a_new_cli_process(
        desk, person, database_url, run_cli, emulator):
    root = person("root", "admin")
    agent = person("ana", "agent")
    changed = root.put("/api/v1/settings/approval_threshold", json={"value": "200.00 USD"})
    assert changed.status_code == 200 and changed.json()["updated_by"] == "root"
    charge = pay(emulator, 20_000)
    served = agent.post("/api/v1/refunds", json={"target": charge, "amount_text": "150"})
    assert served.json()["request"]["status"] == "succeeded", served.text
    cli_charge = pay(emulator, 30_000)
    done = run_cli("refund", cli_charge, "--amount", "250",
                   env={"DISPUTEDESK_TOKEN": cli_token(database_url, "ana", "agent"),
                        "DISPUTEDESK_APPROVAL_THRESHOLD": "1000.00 USD"})
    assert done.returncode == 0, done.stderr
    assert _status_of(desk, cli_charge) == "awaiting_approval"


def test_changing_the_policy_without_being_an_admin_is_refused_everywhere(
        desk, person, database_url, run_cli):
    approver = person("bob", "approver")
    refused = approver.put("/api/v1/settings/approval_threshold", json={"value": "1000000 USD"})
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "permission_denied"
    page = approver.post("/settings", data={"key": "approval_threshold", "value": "1000000 USD"},
                         headers={"accept": "application/json"})
    assert page.status_code in (303, 403)
    done = run_cli("settings", "set", "approval_threshold", "1000000 USD",
                   env={"DISPUTEDESK_TOKEN": cli_token(database_url, "bob", "approver")})
    assert done.returncode == 6 and "settings.manage" in done.stderr
    assert policy.approval_policy(desk).thresholds == {"usd": 10_000}


def test_a_malformed_limit_is_refused_whole_and_a_good_one_is_audited(desk, person):
    root = person("root", "admin")
    bad = root.put("/api/v1/settings/approval_threshold", json={"value": "1,000.00 USD"})
    assert bad.status_code == 400 and bad.json()["detail"]["param"] == "approval_threshold"
    assert policy.approval_policy(desk).thresholds == {"usd": 10_000}
    page = root.post("/settings", data={"key": "approval_daily_limit", "value": "500.00 USD"})
    assert page.status_code == 303
    assert "approval_daily_limit" in root.get("/settings").text
    with desk.store.read() as conn:
        (entry,) = conn.execute(sa.select(audit_log).where(
            audit_log.c.action == "settings.changed")).mappings().all()
    assert entry["details"] == {"key": "approval_daily_limit", "from": "", "to": "500.00 USD"}
    assert (entry["person"], entry["door"]) == ("root", "dashboard")


def test_splitting_refunds_across_my_tokens_to_stay_under_the_daily_limit_is_held(
        desk, person, bearer, emulator):
    root = person("root", "admin")
    assert root.put("/api/v1/settings/approval_daily_limit",
                    json={"value": "150.00 USD"}).status_code == 200
    ana = person("ana", "agent")
    from disputedesk.services import accounts

    _i, secret = accounts.create_token(desk, name="ana-bot", role="agent", owner="ana")
    first = ana.post("/api/v1/refunds", json={"target": pay(emulator, 20_000),
                                              "amount_text": "90"})
    assert first.json()["request"]["status"] == "succeeded"
    second = bearer(secret).post("/api/v1/refunds", json={"target": pay(emulator, 20_000),
                                                          "amount_text": "90"})
    assert second.json()["request"]["status"] == "awaiting_approval", second.text
    assert "above the daily limit of 150.00 USD" in second.json()["request"]["approval_reason"]


def test_the_reminder_schedule_is_read_from_the_database_not_the_process(desk, person):
    root = person("root", "admin")
    bad = root.put("/api/v1/settings/reminder_schedule", json={"value": "soon"})
    assert bad.status_code == 400
    assert root.put("/api/v1/settings/reminder_schedule", json={"value": "48h,2h"}
                    ).status_code == 200
    assert policy.reminder_offsets(desk) == [48 * 3600, 2 * 3600]
    assert desk.settings.reminder_schedule == "7d,72h,24h,6h"  # the process's own value
