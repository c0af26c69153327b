"""Benchmark: the server's peak memory while it is sent huge request bodies.

    .venv/bin/python bench/body_limits_memory.py [--sizes 50,200] [--database-url URL]

Starts ``disputedesk serve --emulator`` in its own process on a free port, warms every path up
with small bodies, then sends each size (MiB) to the JSON API without and with an API token and
to the sign-in form, each with a Content-Length and chunked (no length). Prints every answer's
status and time, and the growth of the server's VmHWM (peak resident memory, /proc/<pid>/status).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MB = 1 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def _chunks(size: int):
    block = b"9" * MB
    for _ in range(size // MB):
        yield block


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,200", help="body sizes in MiB, comma-separated")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ddbench-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    env.update(DISPUTEDESK_DATA_DIR=str(work), PYTHONUNBUFFERED="1")
    if args.database_url:
        env["DISPUTEDESK_DATABASE_URL"] = args.database_url
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "disputedesk.cli.main", "serve", "--emulator",
                             "--port", str(port)], cwd=work, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("serve did not start: " + (work / "serve.log").read_text())
            time.sleep(0.2)
        from disputedesk.config import Settings
        from disputedesk.services import accounts
        from disputedesk.wiring import build_deps

        deps = build_deps(Settings(data_dir=work, database_url=args.database_url), migrate=False)
        token = accounts.token_for_role(deps, "admin")
        deps.close()
        json_h = {"Content-Type": "application/json"}
        targets = [("JSON API, no token", "/api/v1/refunds", json_h),
                   ("JSON API, token", "/api/v1/refunds", {**json_h, "Authorization": f"Bearer {token}"}),
                   ("sign-in form", "/login", {"Content-Type": "application/x-www-form-urlencoded"})]

        def send(path, headers, size, declared):
            sent = dict(headers)
            if declared:
                sent["Content-Length"] = str(size)
            started = time.perf_counter()
            response = httpx.post(url + path, content=_chunks(size), headers=sent, timeout=120)
            return response.status_code, time.perf_counter() - started

        for _name, path, headers in targets:  # warm-up
            for declared in (True, False):
                send(path, headers, 2 * MB, declared)
        before = _hwm_kb(proc.pid)
        print(f"server VmHWM after warm-up: {before / 1024:.1f} MiB")
        for size in (int(s) * MB for s in args.sizes.split(",")):
            for name, path, headers in targets:
                for declared in (True, False):
                    status, took = send(path, headers, size, declared)
                    print(f"{size // MB:>4} MiB  {name:<20} {'Content-Length' if declared else 'chunked':<15}"
                          f" -> {status} in {took * 1000:.0f} ms")
        grown = _hwm_kb(proc.pid) - before
        print(f"server VmHWM growth over all of them: {grown / 1024:.1f} MiB")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
