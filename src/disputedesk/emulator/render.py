"""``expand[]``: replace id strings by the objects they name, copying only along the paths.

Stored objects are never mutated here; unchanged sub-objects are shared with the store, which
is safe because responses are serialized under the emulator lock.
"""

from __future__ import annotations

from typing import Any, Callable

from . import errors
from .state import AccountState, Obj

MAX_DEPTH = 4

# (object type, field) -> builder for fields that are null until expanded (``charge.refunds``).
# Resource modules register theirs at import time; builders read state, never change it.
VIRTUAL: dict[tuple[str, str], Callable[[AccountState, Obj], Any]] = {}


def render(account: AccountState, obj: Obj, paths: list[str]) -> Obj:
    tree: dict[str, Any] = {}
    for path in paths:
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise errors.invalid(
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
                param="expand")
        node = tree
        for part in parts:
            node = node.setdefault(part, {})
    return _apply(account, obj, tree, "")


def _apply(account: AccountState, obj: Obj, tree: dict[str, Any], prefix: str) -> Obj:
    out = dict(obj)
    for field, sub in tree.items():
        full = prefix + field
        if field not in out:
            raise errors.invalid(f"This property cannot be expanded ({full}).", param="expand")
        value = out[field]
        builder = VIRTUAL.get((out.get("object", ""), field))
        if builder is not None:
            value = builder(account, out)
            out[field] = value
        if value is None:
            continue
        if isinstance(value, str):
            target = account.find(value)
            if target is None:
                if "_" not in value:
                    raise errors.invalid(f"This property cannot be expanded ({full}).",
                                         param="expand")
                continue
            out[field] = _apply(account, target, sub, full + ".") if sub else target
        elif isinstance(value, dict):
            if not sub:
                continue  # already an object: expanding it is a no-op, as on Stripe
            out[field] = _apply(account, value, sub, full + ".")
        elif isinstance(value, list):
            out[field] = [(_apply(account, account.find(v) or {"id": v}, sub, full + ".") if sub
                           else (account.find(v) or v)) if isinstance(v, str)
                          else (_apply(account, v, sub, full + ".") if isinstance(v, dict) else v)
                          for v in value]
        else:
            raise errors.invalid(f"This property cannot be expanded ({full}).", param="expand")
    return out
