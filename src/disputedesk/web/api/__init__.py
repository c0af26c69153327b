"""REST API under ``/api/v1``: every module here that defines ``router`` is mounted by create_app."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

API_PREFIX = "/api/v1"


def routers() -> list[APIRouter]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found
