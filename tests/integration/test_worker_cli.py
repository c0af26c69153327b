"""``disputedesk worker`` as a process: applies stored events, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from disputedesk.store import inbox
from disputedesk.store import mirror as repo
from disputedesk.testing import dispute_history
from tests.contract.helpers import store_events


@pytest.fixture
def database_url(sqlite_url):  # a process on a SQLite file: the PostgreSQL case is in
    return sqlite_url          # test_worker_processes.py


def test_the_worker_command_applies_events_and_exits_0_on_sigterm(deps, sqlite_url, tmp_path):
    events, final = dispute_history()
    store_events(deps, events[:5])
    env = dict(os.environ, DISPUTEDESK_DATABASE_URL=sqlite_url,
               DISPUTEDESK_WORKER_POLL_INTERVAL="0.05", PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "disputedesk.cli.main", "worker"], env=env,
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with deps.store.read() as conn:
                if inbox.counts_by_status(conn)["processed"] == 5:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with deps.store.read() as conn:
        stored = repo.get_object(conn, "dispute", final["id"])
    assert stored == events[4]["data"]["object"]
