"""Bounds for whole numbers that come in requests (paths, query strings).

Python's ``int`` has no size limit but the database's columns are 64-bit: a 40-digit id or offset
would reach the driver and fail there (a 500). Routes take these types instead, so FastAPI refuses
the number with a 400/422 that names the parameter before anything runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

INT64_MAX = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A row id (a whole number).")]


def offset(default: int = 0):
    return Query(default, ge=0, le=INT64_MAX)


def keyset(description: str = "Continue before this id (from the previous page)."):
    return Query(None, ge=1, le=INT64_MAX, description=description)
