"""Benchmark: 5,000 bulk refunds from a CSV against the emulator at its rate limit, with faults.

    .venv/bin/python bench/bulk_refunds.py [--rows 5000] [--limit 100] [--rate-429 0.02]
                                           [--rate-500 0.01] [--concurrency 24] [--database-url URL]

The emulator runs in its own process (so the desk's peak memory is the desk's alone), seeded with
one paid charge per row, then set to answer more than ``--limit`` requests per second per account
with 429, plus a random ``--rate-429`` share of 429s and ``--rate-500`` share of 500s. (The
emulator's own fault injection has the per-second limit and the 500 share; the random 429 share is
added by this script around ``Faults.check``.) A counting ASGI wrapper records every /v1 answer.

The desk's client-side limiter (``stripe_rate_limit``) is set to the emulator's limit: the
sustained rate is the /v1 requests the emulator answered per second during the run, as a share of
the limit. Afterwards every refund at the emulator is listed: duplicates (two refunds carrying the
same request id) and missing rows (a row without its refund) must both be 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402

from disputedesk.domain.refunds import REQUEST_METADATA_KEY
from disputedesk.services import mirror as mirror_rules
from disputedesk.services.refunds import run_bulk
from disputedesk.services.refunds.testing import desk_settings
from disputedesk.wiring import build_deps

EMULATOR = textwrap.dedent("""
    import json, random, sys, time
    from collections import Counter
    import uvicorn
    from disputedesk.emulator import Emulator, create_app
    from disputedesk.emulator import errors

    port, share_429 = int(sys.argv[1]), float(sys.argv[2])
    emulator = Emulator(seed=5)
    emulator.start()
    rng = random.Random(429)
    plain_check = emulator.faults.check

    def check(account_id):
        plain_check(account_id)
        # the random 429 share is on only while the other faults are
        if emulator.faults.config.error_rate and rng.random() < share_429:
            raise errors.rate_limited("lock-timeout")

    emulator.faults.check = check
    inner = create_app(emulator)
    stats = {"counts": Counter(), "first": None, "last": None}

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/_bench/stats":
            if scope["method"] == "POST":
                stats.update(counts=Counter(), first=None, last=None)
            body = json.dumps({"counts": stats["counts"], "first": stats["first"],
                               "last": stats["last"]}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await inner(scope, receive, send)
            return

        async def counted(message):
            if message["type"] == "http.response.start":
                now = time.monotonic()
                stats["counts"][str(message["status"])] += 1
                stats["first"] = stats["first"] or now
                stats["last"] = now
            await send(message)

        await inner(scope, receive, counted)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(share_429: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-c", EMULATOR, str(port), str(share_429)], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/_bench/stats", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the emulator did not start")


def seed(base: str, rows: int) -> list[str]:
    """One paid charge per row (faults off), in parallel."""
    client = httpx.Client(base_url=base, auth=("sk_test_bench", ""), timeout=30,
                          limits=httpx.Limits(max_connections=16))

    def one(i: int) -> str:
        answer = client.post("/v1/payment_intents", data={
            "amount": 2000 + (i % 7) * 100, "currency": "usd", "payment_method": "pm_card_visa",
            "confirm": "true", "automatic_payment_methods[enabled]": "true",
            "automatic_payment_methods[allow_redirects]": "never"})
        answer.raise_for_status()
        return answer.json()["latest_charge"]

    with ThreadPoolExecutor(16) as pool:
        charges = list(pool.map(one, range(rows)))
    client.close()
    return charges


def mirror_charges(deps) -> int:
    """What the webhooks would have done: the charges in the desk's mirror (listed, 100 a page)."""
    count = 0
    batch: list[dict] = []
    now = deps.clock.now()
    for charge in deps.gateway().list_objects("charge", {"limit": 100}):
        batch.append(charge)
        if len(batch) == 500:
            count += _store(deps, batch, now)
            batch = []
    return count + _store(deps, batch, now)


def _store(deps, batch: list[dict], now: float) -> int:
    with deps.store.write() as conn:
        for charge in batch:
            mirror_rules.apply_fetched(conn, "charge", charge, account=None,
                                       trigger_updated=int(now) - 1, now=now)
    return len(batch)


def all_refunds(base: str) -> list[dict]:
    client = httpx.Client(base_url=base, auth=("sk_test_bench", ""), timeout=30)
    out, after = [], None
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        page = client.get("/v1/refunds", params=params).json()
        out += page["data"]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=100.0, help="emulator requests/s")
    parser.add_argument("--rate-429", type=float, default=0.02)
    parser.add_argument("--rate-500", type=float, default=0.01)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temp dir")
    args = parser.parse_args()
    machine.print_header([args.database_url or "sqlite://"])
    print(f"reference: the emulator's rate limit, {args.limit:g} requests/s")

    proc, base = start_emulator(args.rate_429)
    tmp = Path(tempfile.mkdtemp(prefix="bench-refunds-"))
    try:
        t0 = time.monotonic()
        charges = seed(base, args.rows)
        print(f"seeded {len(charges)} charges in {time.monotonic() - t0:.1f} s")
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        deps = build_deps(desk_settings(url, base, tmp, stripe_rate_limit=args.limit,
                                        stripe_max_retries=8))
        print(f"mirrored {mirror_charges(deps)} charges")
        csv_text = "charge,amount,reason,metadata.batch\n" + "".join(
            f"{c},{'full' if i % 3 == 0 else '5.00'},requested_by_customer,bench\n"
            for i, c in enumerate(charges))
        (tmp / "refunds.csv").write_text(csv_text)

        httpx.post(base + "/_emulator/faults", json={"rate_limit": args.limit,
                                                      "error_rate": args.rate_500, "seed": 7})
        httpx.post(base + "/_bench/stats")
        t0 = time.monotonic()
        report = run_bulk(deps, (tmp / "refunds.csv").read_bytes(), actor="bench",
                          concurrency=args.concurrency)
        elapsed = time.monotonic() - t0
        stats = httpx.get(base + "/_bench/stats").json()
        httpx.post(base + "/_emulator/faults", json={"rate_limit": 0, "error_rate": 0})
        deps.close()

        answered = sum(stats["counts"].values())
        window = (stats["last"] - stats["first"]) if stats["first"] else elapsed
        refunds = all_refunds(base)
        per_request = Counter((r["metadata"] or {}).get(REQUEST_METADATA_KEY) for r in refunds)
        duplicates = sum(n - 1 for key, n in per_request.items() if key and n > 1)
        per_charge = Counter(r["charge"] for r in refunds)
        missing = sum(1 for c in charges if per_charge[c] == 0)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(json.dumps({"rows": args.rows, "limit_per_s": args.limit,
                          "statuses_answered": stats["counts"],
                          "result_counts": report.counts}, indent=2))
        print(f"run: {elapsed:.1f} s for {args.rows} refunds "
              f"({args.rows / elapsed:.1f} refunds/s)")
        print(f"sustained rate: {answered / window:.1f} requests/s = "
              f"{100 * answered / window / args.limit:.1f}% of the {args.limit:.0f}/s limit "
              f"({answered} answers in {window:.1f} s)")
        ok = sum(n for status, n in stats["counts"].items() if status.startswith("2"))
        print(f"accepted (2xx): {ok / window:.1f} requests/s = "
              f"{100 * ok / window / args.limit:.1f}% of the limit; the rest were the injected "
              "429/500s, each retried with the same idempotency key")
        print(f"refunds at the emulator: {len(refunds)}; duplicates: {duplicates}; "
              f"missing: {missing}")
        print(f"peak memory (desk process, max RSS): {peak_mb:.0f} MB")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
