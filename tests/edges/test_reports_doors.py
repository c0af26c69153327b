"""The reports through every door: REST over HTTP (uvicorn on a free port) with API tokens and
CSV export of every table, and the CLI in another process; figures checked against the ones
computed directly from the seeded history (tests/reports_history.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import httpx
import pytest
from reports_history import MONTHS, NOW, VAMP_MONTH, ZONE, build_history, expected, store_history

from disputedesk.config import Settings
from disputedesk.services import accounts, reports
from disputedesk.services.reports.periods import label
from disputedesk.testing import FakeStripe, ManualClock, run_server
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps


@pytest.fixture(scope="module")
def history():
    return build_history()


@pytest.fixture
def desk(database_url, tmp_path, history):
    settings = Settings(database_url=database_url, data_dir=tmp_path, report_timezone=ZONE)
    deps = build_deps(settings, clock=ManualClock(NOW), gateway_factory=lambda _s: FakeStripe(),
                      migrate=False)
    store_history(deps, history)
    reports.catch_up(deps)
    yield deps
    deps.close()


def test_rest_reports_and_csv_of_every_table(desk, history):
    accounts.create_user(desk, username="rita", role="viewer")
    token = accounts.create_token(desk, name="reports", role="viewer", owner="rita")[1]
    want = expected(history, MONTHS)
    with run_server(create_app(desk)) as base:
        api = httpx.Client(base_url=f"{base}/api/v1", timeout=30,
                           headers={"Authorization": f"Bearer {token}"})
        monitoring = api.get("/reports/monitoring").json()
        vamp = {r["month"]: r for r in next(t for t in monitoring["tables"]
                                            if t["key"] == "vamp")["rows"]}
        assert vamp[label(VAMP_MONTH)]["status"] == "VAMP excessive"
        assert vamp[label(VAMP_MONTH)]["counted"] == want["vamp"][VAMP_MONTH]["counted"]
        for kind in reports.KINDS:
            document = api.get(f"/reports/{kind}", params={"since": "12mo"}).json()
            assert document["since"] == "2025-07" and document["zone"] == ZONE
            for table in document["tables"]:
                answer = api.get(f"/reports/{kind}", params={"format": "csv",
                                                             "table": table["key"]})
                assert answer.status_code == 200
                assert answer.headers["content-type"].startswith("text/csv")
                rows = list(csv.reader(io.StringIO(answer.text)))
                assert len(rows) == 1 + len(table["rows"]), (kind, table["key"])
                assert rows[0][0] == table["columns"][0]["label"]
        money = api.get("/reports/disputes", params={"format": "csv", "table": "money"}).text
        by_currency = {r["Currency"]: r for r in csv.DictReader(io.StringIO(money))}
        assert by_currency["jpy"]["Net"] == str(want["money"]["jpy"]["net"])  # no decimals
        kwd = want["money"]["kwd"]["fees"]
        assert by_currency["kwd"]["Fees charged"] == f"{kwd // 1000}.{kwd % 1000:03d}"
        bad = api.get("/reports/disputes", params={"since": "yesterday"})
        assert bad.status_code == 400 and bad.json()["detail"]["param"] == "since"
        missing = api.get("/reports/refunds", params={"format": "csv", "table": "nope"})
        assert missing.status_code == 404 and "by_origin" in missing.json()["detail"]["hint"]
        closed = api.get("/reports/closed-disputes", params={"outcome": "won", "limit": 5}).json()
        assert len(closed["rows"]) <= 5 and all(r["outcome"] == "won" for r in closed["rows"])
        assert httpx.get(f"{base}/api/v1/reports/disputes").status_code == 401


def test_the_cli_prints_tables_json_and_csv(desk, history, tmp_path):
    url = desk.settings.effective_database_url
    env = {**os.environ, "DISPUTEDESK_DATABASE_URL": url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
           "DISPUTEDESK_REPORT_TIMEZONE": ZONE, "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "disputedesk.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    # the CLI's "now" is the real clock: name the months explicitly
    shown = run("reports", "disputes", "--since", "2025-07", "--until", "2026-06")
    assert shown.returncode == 0, shown.stderr
    assert "Disputes by month" in shown.stdout and "JPY" in shown.stdout and "KWD" in shown.stdout
    data = json.loads(run("reports", "refunds", "--since", "2025-07", "--until", "2026-06",
                          "--json").stdout)
    want = expected(history, MONTHS)
    outside = sum(v["refunds"] for (o, _), v in want["refund_origin"].items() if o == "outside")
    assert data["summary"]["outside"] == outside
    out = tmp_path / "csv"
    written = run("reports", "monitoring", "--since", "2025-07", "--until", "2026-06", "--csv",
                  "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "monitoring-by_account.csv", "monitoring-ecm.csv", "monitoring-vamp.csv"]
    bad = run("reports", "disputes", "--since", "soon")
    assert bad.returncode != 0 and "not a month" in (bad.stdout + bad.stderr)
    assert "Traceback" not in bad.stderr
