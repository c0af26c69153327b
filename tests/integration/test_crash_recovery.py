"""The server killed with SIGKILL under webhook load: after a restart every acknowledged event is
stored and applied exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import sqlalchemy as sa

from disputedesk.testing import TEST_WEBHOOK_SECRET, dispute_history, signed_delivery

# `disputedesk serve` exactly (cli.serve.serve_forever), plus a listener that logs each
# application of an event in the event's own transaction, so a double application would show.
SERVER = textwrap.dedent("""
    import os
    import sqlalchemy as sa
    from disputedesk.cli.serve import serve_forever
    from disputedesk.config import load_settings
    from disputedesk.wiring import build_deps

    deps = build_deps(load_settings())
    with deps.store.write() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS applied_log (event_id TEXT NOT NULL)"))

    def log_application(conn, event, decision, now):
        conn.execute(sa.text("INSERT INTO applied_log (event_id) VALUES (:e)"), {"e": event["id"]})

    deps.event_listeners.on("*", log_application)
    serve_forever(deps, worker_threads=1)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), DISPUTEDESK_DATABASE_URL=db_url,
               DISPUTEDESK_WEBHOOK_SECRETS=TEST_WEBHOOK_SECRET, DISPUTEDESK_PORT=str(port),
               DISPUTEDESK_WORKER_POLL_INTERVAL="0.05")
    proc = subprocess.Popen([sys.executable, "-c", SERVER], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not start")


def test_sigkill_under_load_loses_no_acknowledged_event_and_applies_each_once(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    events = []
    while len(events) < 3000:
        events += dispute_history(start=int(time.time()) - 86400)[0]
    proc, base = start(db_url)
    acked: list[str] = []
    lock = threading.Lock()
    position = iter(range(len(events)))

    def sender() -> None:
        with httpx.Client(base_url=base, timeout=5) as client:
            for i in position:
                body, headers = signed_delivery(events[i])
                try:
                    response = client.post("/webhooks/stripe", content=body, headers=headers)
                except httpx.HTTPError:
                    return  # the server died
                if response.status_code == 200:
                    with lock:
                        acked.append(events[i]["id"])

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acked) < 600 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for thread in threads:
        thread.join(30)
    assert 600 <= len(acked) < len(events)  # killed mid-load

    proc, base = start(db_url)
    try:
        engine = sa.create_engine(db_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.exec_driver_sql(
                    "SELECT count(*) FROM events WHERE status = 'received'").scalar_one()
            if waiting == 0:
                break
            time.sleep(0.1)
        with engine.connect() as conn:
            status = dict(conn.exec_driver_sql("SELECT id, status FROM events").all())
            applied = [r[0] for r in conn.exec_driver_sql("SELECT event_id FROM applied_log")]
        engine.dispose()
    finally:
        proc.terminate()
        proc.wait(20)
    missing = [event_id for event_id in acked if event_id not in status]
    assert missing == []
    assert {status[event_id] for event_id in acked} == {"processed"}
    assert sorted(applied) == sorted(status)  # every stored event applied exactly once
