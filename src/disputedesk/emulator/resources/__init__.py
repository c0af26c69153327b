"""Resource modules: each declares ``ROUTES`` (and optionally ``INDEXES`` and ``install``).

``load()`` imports the modules named in :data:`MODULES` in order; a module that does not exist
yet is skipped, so resources can be added one file at a time.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES = (
    "search",  # first: its /v1/charges/search must win over /v1/charges/{id}
    "payment_intents",
    "charges",
    "refunds",
    "balance_transactions",
    "events",
    "webhook_endpoints",
    "disputes",
    "files",
    "early_fraud_warnings",
    "customers",
    "payment_methods",
    "accounts",
    "file_links",
)


def load() -> list[ModuleType]:
    loaded = []
    for name in MODULES:
        full = f"{__name__}.{name}"
        try:
            loaded.append(importlib.import_module(full))
        except ModuleNotFoundError as exc:
            if exc.name != full:  # a missing dependency inside an existing module is a bug
                raise
    return loaded
