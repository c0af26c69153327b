"""`disputedesk serve --emulator` (a real process) keeps applying events while a burst of signed
webhooks arrives: its worker yields to the receiver but never stops, and every event that was
answered 200 ends processed - none is dropped by the faster path."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx

from disputedesk.testing import TEST_WEBHOOK_SECRET, dispute_history, sign_payload

CONCURRENCY = 16
MAX_REQUESTS = 3000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processed(db) -> tuple[int, int]:
    """(stored, done) events of the desk's SQLite file, read from outside the process."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        stored, done = conn.execute(
            "SELECT count(*), coalesce(sum(status <> 'received'), 0) FROM events").fetchone()
    return stored, done


def _deliveries(n: int) -> list[tuple[str, bytes, str]]:
    now = int(time.time())
    out: list[tuple[str, bytes, str]] = []
    while len(out) < n:
        events, _ = dispute_history(start=now - 86400 - len(out))
        for event in events:
            body = json.dumps(event, indent=2).encode()
            out.append((event["id"], body, sign_payload(body, TEST_WEBHOOK_SECRET, timestamp=now)))
    return out[:n]


def test_serve_applies_events_while_receiving_a_burst_and_drops_none(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    env.update(DISPUTEDESK_DATA_DIR=str(tmp_path), DISPUTEDESK_WEBHOOK_SECRETS=TEST_WEBHOOK_SECRET,
               PYTHONUNBUFFERED="1")
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "disputedesk.cli.main", "serve", "--emulator",
                             "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    try:
        deadline = time.monotonic() + 60
        while "Uvicorn running" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        db = tmp_path / "disputedesk.db"
        assert db.exists()

        deliveries = _deliveries(MAX_REQUESTS)
        acknowledged: list[str] = []
        lock = threading.Lock()
        done_while_receiving = threading.Event()
        stop = threading.Event()

        def watch() -> None:  # sample the worker's progress while the burst is still going
            while not stop.is_set():
                if _processed(db)[1] > 0:
                    done_while_receiving.set()
                    return
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        def send(share: list[tuple[str, bytes, str]]) -> None:
            with httpx.Client(timeout=30) as client:
                for event_id, body, sig in share:
                    # keep sending until the worker was seen applying, then a little more
                    if done_while_receiving.is_set() and len(acknowledged) >= 400:
                        return
                    r = client.post(url, content=body, headers={
                        "Stripe-Signature": sig, "Content-Type": "application/json"})
                    assert r.status_code == 200, r.text
                    with lock:
                        acknowledged.append(event_id)

        shares = [deliveries[i::CONCURRENCY] for i in range(CONCURRENCY)]
        with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
            for future in [pool.submit(send, share) for share in shares]:
                future.result()
        receiving_over = done_while_receiving.is_set()
        stop.set()
        watcher.join(5)
        assert receiving_over, "the worker applied nothing while the webhooks were arriving"

        deadline = time.monotonic() + 120
        while _processed(db)[1] < len(acknowledged) and time.monotonic() < deadline:
            time.sleep(0.5)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = dict(conn.execute("SELECT id, status FROM events WHERE id LIKE 'evt_%'"))
        missing = [e for e in acknowledged if e not in rows]
        assert not missing, f"{len(missing)} acknowledged events were not stored"
        waiting = [e for e in acknowledged if rows[e] == "received"]
        assert not waiting, f"{len(waiting)} of {len(acknowledged)} events never processed"
        assert {rows[e] for e in acknowledged} <= {"processed", "ignored"}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
