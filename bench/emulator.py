"""Refunds created per second through the official stripe SDK: the emulator beside localstripe.

    .venv/bin/python bench/emulator.py [--refunds 600] [--threads 1 8] [--skip-localstripe]
    .venv/bin/python bench/emulator.py --store-sizes 1000 10000 100000   # as the store grows

``--store-sizes``: for each size the emulator (its own process) is seeded with a year of data
until its store holds about that many objects (charges, payment intents, balance transactions,
refunds, disputes, warnings), then timed through the SDK: refund creates per second (one thread)
and the latency of list pages - the newest page, a page deep in the list (``starting_after`` half
way), refunds of one charge, disputes by status-free listing, and ``created[gte]`` of the last
hour (its ``has_more`` must not walk the older objects). The smallest size is the run's
reference: flat means a ratio near 1.

Both servers run as subprocesses on free local ports and are driven by the same client code
(``StripeClient`` pointed at them, one refund per charge, charges prepared before timing).
localstripe is installed only into ``bench/.venv/localstripe`` (created on first run with
``python -m venv`` + ``pip install localstripe``), never into the project's environment.
Prints one line per server and thread count; it is a benchmark, not a test: no assertions.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import stripe

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))
import machine  # noqa: E402
LOCALSTRIPE_VENV = HERE / ".venv" / "localstripe"  # ".venv/" is git-ignored
API_KEY = "sk_test_benchmark"

EMULATOR_SCRIPT = """
import sys, uvicorn
from disputedesk.emulator import Emulator, create_app, seed
emulator = Emulator(seed=1)
objects = int(sys.argv[2]) if len(sys.argv) > 2 else 0
if objects:  # about 3.2 objects per seeded charge
    seed.run(emulator, {"customers": max(10, objects // 60), "charges": max(1, objects * 10 // 32),
                        "seed": 1})
import json
account = emulator.account()
charges = account.collection("charge")
refunds = account.collection("refund")
print(json.dumps({"objects": sum(len(c) for c in account.collections.values()),
                  "middle_charge": charges.order[len(charges.order) // 2] if charges.order else "",
                  "refunded_charge": refunds.get(refunds.order[-1])["charge"] if refunds.order else "",
                  "oldest_created": charges.created[0] if charges.created else 0}), flush=True)
uvicorn.run(create_app(emulator), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            urllib.request.urlopen(url + "/v1/charges", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (401 without a key) means it is serving
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_emulator(port: int, objects: int = 0) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", EMULATOR_SCRIPT, str(port), str(objects)],
                            stdout=subprocess.PIPE if objects else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def ensure_localstripe() -> Path:
    exe = LOCALSTRIPE_VENV / "bin" / "localstripe"
    if not exe.exists():
        print("installing localstripe into", LOCALSTRIPE_VENV, "(first run only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LOCALSTRIPE_VENV)], check=True)
        subprocess.run([str(LOCALSTRIPE_VENV / "bin" / "pip"), "install", "-q", "localstripe"],
                       check=True)
    return exe


def start_localstripe(port: int, workdir: str) -> subprocess.Popen[bytes]:
    exe = ensure_localstripe()
    return subprocess.Popen([str(exe), "--port", str(port), "--from-scratch"], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def client_for(url: str) -> Any:
    return stripe.StripeClient(API_KEY, base_addresses={"api": url, "files": url},
                               max_network_retries=0)


def emulator_charge(client: Any) -> str:
    return client.v1.charges.create(params={"amount": 2000, "currency": "usd",
                                            "source": "tok_visa"}).id


def localstripe_charge(client: Any) -> str:
    # localstripe knows no tok_visa and charges only pm_/src_/card_ sources: tokenize a card
    token = client.v1.tokens.create(params={"card": {
        "number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}})
    return client.v1.charges.create(params={"amount": 2000, "currency": "usd",
                                            "source": token.card.id}).id


def measure(client: Any, make_charge: Callable[[Any], str], refunds: int, threads: int
            ) -> float:
    """Refunds per second with ``threads`` workers, one refund per prepared charge."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        charges = list(pool.map(lambda _: make_charge(client), range(refunds)))

    def refund(charge_id: str) -> None:
        client.v1.refunds.create(params={"charge": charge_id, "amount": 500})

    for charge_id in charges[:5]:  # warm up connections and code paths
        refund(charge_id)
    todo = charges[5:]
    start = time.perf_counter()
    if threads == 1:
        for charge_id in todo:
            refund(charge_id)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(refund, todo))
    return len(todo) / (time.perf_counter() - start)


def _latency_ms(conn: Any, path: str, n: int = 30) -> float:
    """Median ms of ``GET path`` on one keep-alive connection (the server's time, not the SDK's
    parsing of the page)."""
    samples = []
    for i in range(n + 1):
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {API_KEY}"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        if i:
            samples.append(time.perf_counter() - t0)
    samples.sort()
    return samples[len(samples) // 2] * 1000


LIST_COLUMNS = ("newest page", "deep page", "by charge", "disputes", "oldest day")


def store_sizes(sizes: list[int], refunds: int) -> None:
    """Refund creates/s and list page latency (median ms) at each store size."""
    import http.client
    import json

    print("\nthe emulator as its store grows: refunds/s through the SDK (one thread), then the "
          "median ms of 30 GET list pages (limit=10): the newest charges, charges starting_after "
          "one half way down, refunds of one charge, disputes, charges created in the oldest day")
    print(f"{'objects':>8} {'refunds/s':>9} " + " ".join(f"{c:>11}" for c in LIST_COLUMNS))
    first: list[float] | None = None
    for size in sizes:
        port = free_port()
        proc = start_emulator(port, size)
        try:
            info = json.loads(proc.stdout.readline())  # printed once seeded
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, proc, timeout=120)
            rate = measure(client_for(url), emulator_charge, refunds, 1)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            oldest = info["oldest_created"]
            paths = ["/v1/charges?limit=10",
                     f"/v1/charges?limit=10&starting_after={info['middle_charge']}",
                     f"/v1/refunds?limit=10&charge={info['refunded_charge']}",
                     "/v1/disputes?limit=10",
                     f"/v1/charges?limit=10&created[lte]={oldest + 86400}"]
            figures = [rate] + [_latency_ms(conn, path) for path in paths]
            conn.close()
        finally:
            stop(proc)
        print(f"{info['objects']:>8} {figures[0]:>9.0f} "
              + " ".join(f"{f:>11.2f}" for f in figures[1:]), flush=True)
        if first is None:
            first = figures
        else:
            print(f"{'x first':>8} {figures[0] / first[0]:>9.2f} "
                  + " ".join(f"{f / r:>11.2f}" for f, r in zip(figures[1:], first[1:])),
                  flush=True)


def run(name: str, start: Callable[[int], subprocess.Popen[bytes]],
        make_charge: Callable[[Any], str], refunds: int, thread_counts: list[int]
        ) -> dict[int, float]:
    results: dict[int, float] = {}
    for threads in thread_counts:
        port = free_port()
        proc = start(port)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, proc)
            results[threads] = measure(client_for(url), make_charge, refunds, threads)
            print(f"{name:<12} {threads:>2} thread(s): {results[threads]:8.0f} refunds/s",
                  flush=True)
        finally:
            stop(proc)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refunds", type=int, default=600, help="refunds per measurement")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--skip-localstripe", action="store_true")
    parser.add_argument("--store-sizes", type=int, nargs="+", default=None,
                        help="measure the emulator alone at these store sizes (objects)")
    args = parser.parse_args(argv)
    if args.refunds < 10:
        parser.error("--refunds must be at least 10")
    machine.print_header()
    if args.store_sizes:
        store_sizes(args.store_sizes, args.refunds)
        return 0

    print(f"refunds created per second through stripe-python {stripe.VERSION} "
          f"({args.refunds - 5} timed refunds per run; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start: the client shares the machine with the server)")
    emu = run("emulator", start_emulator, emulator_charge, args.refunds, args.threads)
    ls: dict[int, float] = {}
    if not args.skip_localstripe:
        with tempfile.TemporaryDirectory() as workdir:
            ls = run("localstripe", lambda port: start_localstripe(port, workdir),
                     localstripe_charge, args.refunds, args.threads)
    print()
    print(f"{'threads':>7}  {'emulator':>10}  {'localstripe':>11}  {'ratio':>6}")
    for threads in args.threads:
        other = ls.get(threads)
        ratio = f"{emu[threads] / other:5.1f}x" if other else "  n/a"
        other_s = f"{other:11.0f}" if other else f"{'-':>11}"
        print(f"{threads:>7}  {emu[threads]:10.0f}  {other_s}  {ratio:>6}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
