"""``Stripe-Version``: rendering a response or an event at the API version asked for.

A request may pin a version with the ``Stripe-Version`` header; without it the account's
default (``Emulator.api_version``) applies. Webhook endpoints created with ``api_version`` get
their deliveries at that version. The changes modelled are the ones that touch the objects the
emulator serves:

- before ``2022-11-15`` a charge always carries ``refunds``, an embedded list of its (newest 10)
  refunds; from that version on it appears only when expanded (``expand[]=refunds``);
- an event's ``api_version`` names the version its ``data.object`` is rendered at.
"""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .render import VIRTUAL
from .state import AccountState

CHARGE_REFUNDS_EXPANDABLE = "2022-11-15"
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
OLDEST = "2011-01-01"


def check(version: str | None, param: str | None = None) -> str | None:
    """A ``Stripe-Version`` value, or Stripe's 400 for one that is not a version."""
    if version is None:
        return None
    version = version.strip()
    if not _VERSION.match(version) or version[:10] < OLDEST:
        raise errors.invalid(f"Invalid Stripe API version: {version}", param=param)
    return version


def at_version(value: Any, account: AccountState, version: str | None,
               default: str) -> Any:
    """``value`` (already on the wire, so a copy) as rendered at ``version`` (None: the
    account's ``default``, the version events are stamped with when they are made)."""
    version = version or default
    if version == default and version[:10] >= CHARGE_REFUNDS_EXPANDABLE:
        return value  # what is stored is already this version's shape
    return _walk(value, account, version)


def _walk(value: Any, account: AccountState, version: str) -> Any:
    if isinstance(value, list):
        return [_walk(v, account, version) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _walk(v, account, version) if isinstance(v, (dict, list)) else v
           for k, v in value.items()}
    kind = out.get("object")
    if kind == "event":
        out["api_version"] = version
    elif kind == "charge" and version[:10] < CHARGE_REFUNDS_EXPANDABLE \
            and not isinstance(out.get("refunds"), dict) and "id" in out:
        out["refunds"] = VIRTUAL[("charge", "refunds")](account, out)
    return out
