"""Benchmark: webhook ingest driven by wrk, beside hello-world and a bare reference, in one run.

    .venv/bin/python bench/webhook_ingest.py                      # SQLite (+ PostgreSQL if set)
    .venv/bin/python bench/webhook_ingest.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/webhook_ingest.py --before-src /tmp/before/src   # also "before"
    .venv/bin/python bench/webhook_ingest.py --repeat 2      # best of two rounds (a loaded machine)

The load generator is Debian's ``wrk`` (installed with apt-get when missing): one thread, 64
connections, 10 s. Its Lua script (``bench/wrk_webhooks.lua``) sends precomputed requests, each a
distinct, correctly signed ~4 KB dispute event (the desk and the reference verify every
signature; a repeated id would make the insert a no-op and flatter the figure). Servers, each in
its own subprocess on loopback, no access log:

- ``hello``: a hello-world ASGI app (what uvicorn itself costs);
- ``reference``: a bare ASGI app doing only read body, ``stripe.WebhookSignature.verify_header``,
  one INSERT + commit into the desk's own ``events`` table, 200;
- ``receiver``: the desk with no worker (``serve --worker-threads 0``);
- ``serve``: ``disputedesk serve --emulator``, exactly as the README starts it, its worker applying
  the events (and running the automation jobs they queue) against the emulator while it receives.

After each run the stored rows are counted (every 200 must be there); for ``serve`` the bench then
waits until the worker has processed every stored event. With ``--before-src`` the desk variants
are also run from another source tree (e.g. ``git archive`` of an older commit) on the plain
install (uvloop and httptools hidden), and hello-world and the reference with it, so before and
after are measured side by side in the same run. Ratios are to the reference of the same stack.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402

from disputedesk.testing import (  # noqa: E402
    TEST_WEBHOOK_SECRET,
    dispute_history,
    sign_payload,
)

PG_ENV = "DISPUTEDESK_TEST_DATABASE_URL"
LUA = ROOT / "bench" / "wrk_webhooks.lua"
BODY_BYTES = 4096

SERVER_HELLO = r"""
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""

# The desk's receiver alone: `disputedesk serve --worker-threads 0` (uvicorn, no access log).
SERVER_RECEIVER = r"""
import logging, sys
from disputedesk.cli.serve import serve_forever
from disputedesk.config import Settings
from disputedesk.wiring import build_deps
url, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
logging.disable(logging.INFO)
deps = build_deps(Settings(database_url=url, webhook_secrets=secret, port=port))
serve_forever(deps, worker_threads=0)
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


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing; installing Debian's wrk package (apt-get install -y wrk)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env,
                   stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is not installed and could not be installed: apt-get install wrk")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hidden_speedups(workdir: Path) -> Path:
    """A folder that makes ``import uvloop`` / ``import httptools`` fail (the plain install)."""
    folder = workdir / "plain-stack"
    folder.mkdir(exist_ok=True)
    for name in ("uvloop", "httptools"):
        (folder / f"{name}.py").write_text(f"raise ImportError('{name} hidden by the bench')\n")
    return folder


def _wait_listening(proc: subprocess.Popen, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited during start ({proc.returncode})") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def start(kind: str, url: str, src: Path, pythonpath_extra: list[Path], workdir: Path
          ) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath_extra), str(src)])
    if kind == "serve":
        # Exactly as the README starts it, with the bench's secret accepted besides the one the
        # emulator's registered endpoint uses.
        env.update(DISPUTEDESK_DATABASE_URL=url, DISPUTEDESK_WEBHOOK_SECRETS=TEST_WEBHOOK_SECRET,
                   DISPUTEDESK_DATA_DIR=str(workdir / f"data-{port}"))
        args = [sys.executable, "-m", "disputedesk.cli.main", "serve", "--emulator",
                "--port", str(port)]
    else:
        code = {"hello": SERVER_HELLO, "reference": SERVER_REFERENCE,
                "receiver": SERVER_RECEIVER}[kind]
        args = [sys.executable, "-c", code, url, str(port), TEST_WEBHOOK_SECRET]
    proc = subprocess.Popen(args, env=env, cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_listening(proc, port)
    if kind == "serve":
        time.sleep(1.0)  # the emulator, the first admin and the worker's periodic jobs
    return proc, port


def _padded_event(event: dict, now: int) -> bytes:
    """Stripe pretty-prints event bodies; pad the dispute's metadata to ~4 KB."""
    event = dict(event, id=f"evt_bench_{uuid.uuid4().hex}")
    body = json.dumps(event, indent=2).encode()
    missing = BODY_BYTES - len(body)
    if missing > 40:
        obj = dict(event["data"]["object"])
        obj["metadata"] = dict(obj.get("metadata") or {}, bench_note="x" * (missing - 40))
        event["data"] = dict(event["data"], object=obj)
        body = json.dumps(event, indent=2).encode()
    return body


def write_requests(path: Path, n: int) -> int:
    """``n`` distinct signed deliveries as raw HTTP requests, each prefixed by its length (8
    digits) for the Lua script: a new dispute (its whole history, eight events) every eight.

    One history is rendered once; each copy gets fresh dispute, charge and event ids by string
    replacement (same lengths), then its own signature - fast enough to run just before each
    server, so every signature is well inside the desk's ±300 s tolerance."""
    now = int(time.time())
    history, _ = dispute_history(start=now - 86400)
    dispute_id, charge_id = history[0]["data"]["object"]["id"], history[0]["data"]["object"]["charge"]
    bodies = [_padded_event(e, now).decode() for e in history]
    bodies = [(text, json.loads(text)["id"]) for text in bodies]
    size = 0
    with path.open("wb") as f:
        for i in range(n):
            text, event_id = bodies[i % len(bodies)]
            k = i // len(bodies)
            body = (text.replace(dispute_id, f"du_{k:0{len(dispute_id) - 3}d}")
                    .replace(charge_id, f"ch_{k:0{len(charge_id) - 3}d}")
                    .replace(event_id, f"evt_bench_{uuid.uuid4().hex}")).encode()
            size += len(body)
            sig = sign_payload(body, TEST_WEBHOOK_SECRET, timestamp=now)
            raw = (f"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Content-Type: application/json; charset=utf-8\r\nStripe-Signature: {sig}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            f.write(b"%08d" % len(raw) + raw)
    return size // n


def run_wrk(wrk: str, port: int, requests_file: Path, *, seconds: int, connections: int) -> dict:
    env = dict(os.environ, BENCH_REQUESTS=str(requests_file))
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(LUA), f"http://127.0.0.1:{port}/webhooks/stripe"],
                         env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")


def count_events(url: str, status: str | None = None) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            try:
                sql = "SELECT count(*) FROM events" + (" WHERE status <> 'received'" if status else "")
                return conn.exec_driver_sql(sql).scalar_one()
            except sa.exc.DBAPIError:
                return 0  # not migrated (hello-world)
    finally:
        engine.dispose()


def fresh_database(db: str, workdir: Path, label: str) -> tuple[str, callable]:
    if db == "sqlite":
        return f"sqlite:///{workdir / (label + '.db')}", lambda: None
    from disputedesk.testing import create_pg_database, drop_pg_database

    url = create_pg_database(db, prefix="ddbench")
    return url, lambda: drop_pg_database(db, url)


def measure(kind: str, db: str, stack: dict, args, wrk: str, workdir: Path) -> dict:
    label = f"{stack['name']}_{kind}"
    url, cleanup = fresh_database(db, workdir, label)
    requests_file = workdir / "requests.bin"
    proc, port = start(kind, url, stack["src"], stack["path"], workdir)
    try:
        result = run_wrk(wrk, port, requests_file, seconds=args.seconds,
                         connections=args.connections)
        time.sleep(0.5)  # requests still in flight when wrk stopped are answered and stored
        stored = count_events(url)
        drained = None
        if kind == "serve":
            t0 = time.monotonic()
            while (count_events(url, status="done") < stored
                   and time.monotonic() - t0 < args.drain):
                time.sleep(0.5)
            result["processed"] = count_events(url, status="done")
            drained = time.monotonic() - t0
        result.update(stored=stored, drain_s=drained)
        # acknowledged (200) but not stored; wrk does not count answers after it stopped, so
        # stored may exceed the 200s it saw
        result["lost"] = max(0, result["ok"] - stored) if kind != "hello" else 0
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        cleanup()


def bench(db: str, args, wrk: str, workdir: Path) -> list[str]:
    name = "SQLite" if db == "sqlite" else "PostgreSQL"
    print(f"\n== webhook ingest on {name}: wrk, 1 thread, {args.connections} connections, "
          f"{args.seconds} s, distinct signed ~{BODY_BYTES // 1024} KB dispute events ==")
    stacks = []
    if args.before_src:
        stacks.append({"name": "before", "src": Path(args.before_src),
                       "path": [_hidden_speedups(workdir)], "label": "before (plain uvicorn)"})
    stacks.append({"name": "now", "src": ROOT / "src", "path": [],
                   "label": "now (uvicorn[standard])"})
    head = (f"{'stack':<24} {'server':<10} | {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'ratio to ref':>12} | {'lost':>4} | worker")
    print(head)
    rows = []
    for stack in stacks:
        results: dict[str, dict] = {}
        for _ in range(args.repeat):  # rounds over all four, so load drifts hit each alike
            for kind in ("hello", "reference", "receiver", "serve"):
                # fresh signature timestamps for each server (the desk's ±300 s tolerance)
                write_requests(workdir / "requests.bin", args.bodies)
                r = measure(kind, db, stack, args, wrk, workdir)
                if kind not in results or r["rps"] > results[kind]["rps"]:
                    results[kind] = r
        ref = results["reference"]["rps"]
        for kind, r in results.items():
            extra = ""
            if r.get("non_2xx") or r.get("errors"):
                extra += f" non-2xx {r['non_2xx']}, socket errors {r['errors']}"
            if r["repeated"]:
                extra += f" ({r['repeated']} requests repeated a body: raise --bodies)"
            worker = ""
            if kind == "serve":
                worker = (f"{r['processed']}/{r['stored']} processed, drained "
                          f"{r['drain_s']:.1f} s after the load")
            line = (f"{stack['label']:<24} {kind:<10} | {r['rps']:>6.0f} {r['p50_ms']:>7.1f} "
                    f"{r['p99_ms']:>7.1f} | {r['rps'] / ref:>12.2f} | {r['lost']:>4} | "
                    f"{worker}{extra}")
            print(line, flush=True)
            rows.append(f"| {name} | {stack['label']} | {kind} | {r['rps']:.0f} | "
                        f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['rps'] / ref:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", action="append", default=None,
                        help="'sqlite' or a PostgreSQL admin URL (repeatable); default: SQLite, "
                             f"and PostgreSQL when {PG_ENV} is set")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=90_000,
                        help="distinct signed events prepared per run (more than are sent)")
    parser.add_argument("--before-src", default=None,
                        help="also run the desk from this source tree on the plain install")
    parser.add_argument("--drain", type=float, default=120,
                        help="seconds to wait for serve's worker to process the stored events")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds per stack; each server's fastest round is shown")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args()
    dbs = args.db or (["sqlite"] + ([os.environ[PG_ENV]] if os.environ.get(PG_ENV) else []))
    wrk = ensure_wrk()
    machine.print_header([d for d in dbs if d != "sqlite"] + (["sqlite://"] if "sqlite" in dbs else []))
    print(subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for db in dbs:
            rows += bench(db, args, wrk, Path(tmp))
    if args.markdown:
        print("\n| database | stack | server | req/s | p50 ms | p99 ms | ratio to reference |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
