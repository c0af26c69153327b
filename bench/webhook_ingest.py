"""Benchmark: webhook ingest (requests/s, p50/p99) beside a bare reference receiver, and worker apply rate.

The worker figures come from bench/worker_throughput.py (features installed as `serve` installs
them, on a realistic mix and on dispute histories only); run that script for more options.

    .venv/bin/python bench/webhook_ingest.py [--requests 20000] [--levels 1,16,64]
    DISPUTEDESK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/webhook_ingest.py          # also PostgreSQL

Each server runs in its own subprocess (uvicorn, no access log) on loopback; the load generator
is a minimal HTTP/1.1 keep-alive client on asyncio (an httpx client would be the bottleneck).
Every request carries a distinct, correctly signed event. The reference receiver is a bare ASGI
app doing only: read body, ``stripe.WebhookSignature.verify_header``, one INSERT + commit, 200.
After each run the stored rows are counted: every 200 must be there. Loops are bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from disputedesk.testing import (  # noqa: E402
    TEST_WEBHOOK_SECRET,
    dispute_history,
    make_event,
    make_refund,
    sign_payload,
)

PG_ENV = "DISPUTEDESK_TEST_DATABASE_URL"

SERVER_DESK = r"""
import logging, sys
from disputedesk.cli.serve import serve_forever
from disputedesk.config import Settings
from disputedesk.wiring import build_deps
url, port, secret, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
logging.disable(logging.INFO)
deps = build_deps(Settings(database_url=url, webhook_secrets=secret, port=port))
serve_forever(deps, worker_threads=workers)  # exactly `disputedesk serve` (uvicorn, no access log)
"""

# The reference: verify + insert + 200 and nothing else (same table as the desk's inbox).
SERVER_REFERENCE = r"""
import sys, json, time, sqlite3, uvicorn, stripe
import sqlalchemy as sa
from disputedesk.store import make_engine, migrate
url, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
engine = make_engine(url)
migrate(engine)  # the same table and indexes as the desk's inbox
SQL = ("INSERT INTO events (id, type, created, account, livemode, api_version, object_type, "
       "object_id, payload, status, attempts, last_error, next_attempt_at, received_at, "
       "processed_at) VALUES (%s) ON CONFLICT (id) DO NOTHING")
if engine.dialect.name == "sqlite":
    engine.dispose()
    db = sqlite3.connect(sa.engine.make_url(url).database, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    sql = SQL % ",".join("?" * 15)
    def insert(row):
        db.execute("BEGIN"); db.execute(sql, row); db.execute("COMMIT")
else:
    import psycopg
    db = psycopg.connect(sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False),
                         autocommit=True)
    sql = SQL % ",".join(["%s"] * 15)
    def insert(row):
        db.execute(sql, row)

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        m = await receive()
        body += m.get("body", b"")
        if not m.get("more_body"):
            break
    sig = dict(scope["headers"]).get(b"stripe-signature", b"").decode()
    try:
        stripe.WebhookSignature.verify_header(body, sig, secret, tolerance=300)
        e = json.loads(body)
    except Exception:
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    now = time.time()
    insert((e["id"], e["type"], e["created"], None, False, None, None, None, body.decode(),
            "received", 0, None, now, now, None))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})

uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(code: str, url: str, workers: int = 0) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-c", code, url, str(port), TEST_WEBHOOK_SECRET,
                             str(workers)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("server exited during start") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def build_requests(n: int) -> list[bytes]:
    """n distinct signed deliveries (dispute and refund events, realistic sizes)."""
    now = int(time.time())
    template, _ = dispute_history(start=now - 86400)
    refund = make_refund(created=now - 10)
    out = []
    for i in range(n):
        source = template[i % len(template)] if i % 3 else make_event("refund.updated", refund, created=now)
        event = dict(source, id=f"evt_bench_{uuid.uuid4().hex}")
        body = json.dumps(event, indent=2).encode()
        sig = sign_payload(body, TEST_WEBHOOK_SECRET, timestamp=now)
        head = (f"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json; charset=utf-8\r\nStripe-Signature: {sig}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        out.append(head + body)
    return out


async def _sender(port: int, requests: list[bytes], latencies: list[float], statuses: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            t0 = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            code = int(status_line.split()[1])
            statuses[code] = statuses.get(code, 0) + 1
    finally:
        writer.close()


async def load(port: int, requests: list[bytes], senders: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    shares = [requests[i::senders] for i in range(senders)]
    t0 = time.perf_counter()
    await asyncio.gather(*(_sender(port, share, latencies, statuses) for share in shares))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"rps": len(requests) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "statuses": statuses}


def count_events(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
    engine.dispose()
    return n


def fresh_database(kind: str, workdir: Path, label: str) -> tuple[str, callable]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / (label + '.db')}", lambda: None
    from disputedesk.testing import create_pg_database, drop_pg_database

    admin = os.environ[PG_ENV]
    url = create_pg_database(admin, prefix="ddbench")
    return url, lambda: drop_pg_database(admin, url)


def bench_ingest(kind: str, levels: list[int], per_level: int, workdir: Path) -> None:
    print(f"\n== webhook ingest on {kind} ==")
    print("desk = `disputedesk serve` with --worker-threads 0 (receiver only) and 1 (receiver +"
          " worker applying the events meanwhile); ref = bare verify + insert + 200 ASGI app")
    print(f"{'senders':>7} {'server':>11} | {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} | "
          f"{'ratio to ref':>12} | lost")
    variants = (("ref", SERVER_REFERENCE, 0), ("desk", SERVER_DESK, 0),
                ("desk+worker", SERVER_DESK, 1))
    for senders in levels:
        n = per_level if senders > 1 else max(500, per_level // 10)
        results = {}
        for label, code, workers in variants:
            url, cleanup = fresh_database(kind, workdir, f"{label}_{senders}".replace("+", "_"))
            proc, port = start_server(code, url, workers)
            try:
                asyncio.run(load(port, build_requests(200), min(senders, 16)))  # warm-up
                before = count_events(url)
                result = asyncio.run(load(port, build_requests(n), senders))
                ok = result["statuses"].get(200, 0)
                result["lost"] = ok - (count_events(url) - before)
                results[label] = result
            finally:
                proc.terminate()
                proc.wait(20)
                cleanup()
        ref = results["ref"]
        for label, _, _ in variants:
            d = results[label]
            print(f"{senders:>7} {label:>11} | {d['rps']:>6.0f} {d['p50_ms']:>7.2f} "
                  f"{d['p99_ms']:>7.2f} | {d['rps'] / ref['rps']:>12.2f} | {d['lost']}"
                  + ("" if set(d["statuses"]) == {200} else f"  statuses={d['statuses']}"))


def bench_worker(kind: str, n: int, workdir: Path, *, bare: bool, mix: str = "mixed") -> None:
    """One worker's apply rate with the desk's features installed (bench/worker_throughput.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import worker_throughput

    result = worker_throughput.run(kind, n, mix, workdir, features=not bare)
    print("\n== worker: " + worker_throughput.report(result).strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per level (16, 64)")
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--worker-events", type=int, default=20_000)
    parser.add_argument("--only", choices=["ingest", "worker"], default=None)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    kinds = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, databases: {', '.join(kinds)}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            if args.only in (None, "ingest"):
                bench_ingest(kind, levels, args.requests, Path(tmp))
            if args.only in (None, "worker"):
                for mix in ("mixed", "disputes"):
                    bench_worker(kind, args.worker_events, Path(tmp), bare=True, mix=mix)
                    bench_worker(kind, args.worker_events, Path(tmp), bare=False, mix=mix)


if __name__ == "__main__":
    main()
