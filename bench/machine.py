"""What every benchmark prints first: the machine, the versions, and how loaded the machine is.

Figures from a shared machine move with its load, so each benchmark also measures a reference in
the same run (a bare server, a hello-world, the mirror without listeners...) and the figures worth
comparing between runs are the ratios to it.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

PACKAGES = ("uvicorn", "uvloop", "httptools", "SQLAlchemy", "stripe", "psycopg", "fastapi")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def database_version(url: str) -> str:
    """The server's own version string (SQLite: the library linked into Python)."""
    import sqlalchemy as sa

    if url.startswith("sqlite"):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return "PostgreSQL " + str(conn.exec_driver_sql("SHOW server_version").scalar_one())
    finally:
        engine.dispose()


def describe(database_urls: list[str] = ()) -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    lines = [
        f"machine: {os.cpu_count()} cores, {_memory_gib()}, {_cpu_model()}, "
        f"{platform.system()} {platform.release()}; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} at start",
        f"python {sys.version.split()[0]}; "
        + ", ".join(f"{name} {_version(name)}" for name in PACKAGES),
    ]
    for url in database_urls:
        lines.append(f"database: {database_version(url)}")
    return "\n".join(lines)


def print_header(database_urls: list[str] = ()) -> None:
    print(describe(database_urls))
    print("(a shared machine: compare the ratios to the reference measured in this run)")
