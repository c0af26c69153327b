"""The virtualenv third-party clients run in, built once from a pinned requirements file.

dj-stripe pins an older stripe SDK than the project's, so it cannot share ``.venv``. The
virtualenv lives under ``$DISPUTEDESK_CACHE_DIR`` (default ``~/.cache/disputedesk``), named
after a hash of the requirements and the Python version; it is reused while both stay the
same, and rebuilt when an earlier build did not finish. Installing needs PyPI (CI has it):
a failed install fails the test, it is never skipped.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def cache_dir() -> Path:
    base = os.environ.get("DISPUTEDESK_CACHE_DIR")
    return Path(base) if base else Path.home() / ".cache" / "disputedesk"


def thirdparty_venv(requirements: Path) -> Path:
    """The python of a virtualenv with ``requirements`` installed (built if missing)."""
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
    venv = cache_dir() / f"{requirements.stem}-{key}"
    python = venv / "bin" / "python"
    stamp = venv / ".complete"
    venv.parent.mkdir(parents=True, exist_ok=True)
    # several test runs may share the cache (xdist workers, parallel checkouts): build once
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and python.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        result = subprocess.run([str(python), "-m", "pip", "install", "-q",
                                 "--disable-pip-version-check", "-r", str(requirements)],
                                capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"installing {requirements.name} failed:\n{result.stderr[-4000:]}")
        stamp.write_text("ok\n")
    return python


@pytest.fixture(scope="session")
def djstripe_python() -> Path:
    return thirdparty_venv(HERE / "djstripe-requirements.txt")
