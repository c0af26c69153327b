"""``disputedesk emulator``: option checks, seeding, and serving on the printed address."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from disputedesk import errors
from disputedesk.cli.emulator_cmd import build_emulator, seed_summary
from disputedesk.cli.main import app

DEFAULTS: dict[str, Any] = dict(seed=None, seed_data=None, customers=5, charges=60,
                                rate_limit=0.0, error_rate=0.0, latency_ms=0, webhooks=[])


@pytest.mark.parametrize("args", [["--error-rate", "1.5"], ["--rate-limit", "-1"],
                                  ["--webhook", "ftp://example.com/x"], ["--charges", "-1"],
                                  ["--seed", "-2"]])
def test_emulator_command_refuses_bad_options(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["emulator", "--port", "0", *args])
    assert isinstance(result.exception, errors.ConfigError)


def test_emulator_command_is_listed_in_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "emulator" in result.output


def test_without_seed_the_emulator_starts_empty() -> None:
    em, counts = build_emulator(**DEFAULTS)
    assert counts is None
    assert len(em.platform.collection("charge")) == 0


def test_seed_loads_the_data_set_by_default() -> None:
    em, counts = build_emulator(**{**DEFAULTS, "seed": 7})
    assert counts is not None and counts["charges"] == 60
    assert len(em.platform.collection("charge")) == 60
    assert em.seed == 7
    line = seed_summary(counts, 7)
    assert line.startswith("seeded (seed 7): 5 customers, 60 charges, ")


def test_no_seed_data_keeps_only_deterministic_ids() -> None:
    em, counts = build_emulator(**{**DEFAULTS, "seed": 7, "seed_data": False})
    assert counts is None and len(em.platform.collection("charge")) == 0


def test_seed_data_without_seed_uses_seed_zero() -> None:
    em, counts = build_emulator(**{**DEFAULTS, "seed_data": True})
    assert counts is not None and em.seed == 0


def test_same_seed_gives_the_same_data() -> None:
    a, _ = build_emulator(**{**DEFAULTS, "seed": 3})
    b, _ = build_emulator(**{**DEFAULTS, "seed": 3})
    assert a.platform.collection("charge").ids() == b.platform.collection("charge").ids()


def test_command_serves_seeded_data_on_the_printed_address() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "disputedesk.cli.main", "emulator", "--port", "0", "--seed", "5",
         "--customers", "4", "--charges", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        address_line = proc.stdout.readline()
        summary = proc.stdout.readline()
        assert address_line.startswith("Stripe emulator listening on http://127.0.0.1:")
        assert summary.startswith("seeded (seed 5): 4 customers, 40 charges")
        base = address_line.rsplit(" ", 1)[1].strip()
        charges = httpx.get(f"{base}/v1/charges", params={"limit": 100},
                            headers={"Authorization": "Bearer sk_test_cli"}, timeout=10)
        assert charges.status_code == 200
        assert len(charges.json()["data"]) == 40
    finally:
        proc.terminate()
        proc.wait(timeout=10)
