"""The conformance suite's shared, session-wide material: Stripe's API description (fetched
from npm by scripts/fetch_stripe_spec when the cache is missing) and one full drive of the
emulator, whose records every test of the suite checks from its own angle."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import spec_drive  # this folder is on sys.path (pytest's rootdir-relative import)
import stripe_spec
from spec_check import Checker


def load_spec() -> stripe_spec.Spec:
    if not (stripe_spec.CACHE / "stripe" / "package.json").is_file():
        subprocess.run([str(stripe_spec.ROOT / "scripts" / "fetch_stripe_spec")], check=True)
    return stripe_spec.Spec()


@pytest.fixture(scope="session")
def spec() -> stripe_spec.Spec:
    return load_spec()


@pytest.fixture(scope="session")
def checker(spec: stripe_spec.Spec) -> Checker:
    return Checker(spec)


@pytest.fixture(scope="session")
def records() -> list[Any]:
    return spec_drive.run()


@pytest.fixture(scope="session")
def param_results(spec: stripe_spec.Spec) -> list[Any]:
    return spec_drive.param_acceptance(spec)
