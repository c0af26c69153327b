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


# ----------------------------------------------------------------------------- on the wire
#
# Stripe renders two kinds of "no value" differently: a *nullable* field is always present and
# may be ``null`` (``charge.failure_code``); an *optional* field is left out when it does not
# apply (``charge.level3``, ``event.account`` outside Connect). Stored objects keep every field
# (``None`` when unset) so handlers and hooks read them with ``obj["field"]``; :func:`wire`
# drops the optional ones that are ``None`` from what leaves the emulator (response bodies,
# event snapshots and so webhook bodies, objects embedded in errors). Each resource module
# declares its object's optional fields with :func:`optional` at import time, as dotted paths
# into nested hashes (``"outcome.rule"``); a nested object with its own ``object`` value
# (an expanded charge, a list's items) follows its own declaration.

_LEAF: dict[str, Any] = {}
OPTIONAL: dict[str, dict[str, Any]] = {}  # object type -> path tree, leaves are _LEAF


def optional(object_type: str, *paths: str) -> None:
    """Declare fields of ``object_type`` that Stripe leaves out when they have no value."""
    tree = OPTIONAL.setdefault(object_type, {})
    for path in paths:
        node = tree
        *parents, last = path.split(".")
        for part in parents:
            nxt = node.get(part)
            if nxt is None or nxt is _LEAF:
                nxt = node[part] = {}
            node = nxt
        node[last] = _LEAF


def wire(value: Any) -> Any:
    """``value`` as Stripe renders it: optional fields without a value left out (a copy)."""
    if isinstance(value, dict):
        kind = value.get("object")
        return _wire_dict(value, OPTIONAL.get(kind) if isinstance(kind, str) else None)
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


def _wire_dict(d: dict[str, Any], tree: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in d.items():
        sub = tree.get(key) if tree else None
        if v is None:
            if sub is not _LEAF:
                out[key] = None
            continue
        if isinstance(v, dict):
            if isinstance(v.get("object"), str):  # an object of its own: its own declaration
                out[key] = wire(v)
            else:
                out[key] = _wire_dict(v, sub if sub is not _LEAF else None)
        elif isinstance(v, list):
            out[key] = [x if not isinstance(x, (dict, list)) else
                        wire(x) if not isinstance(x, dict) or isinstance(x.get("object"), str)
                        else _wire_dict(x, sub if sub is not _LEAF else None) for x in v]
        else:
            out[key] = v
    return out


def is_optional(object_type: str, path: str) -> bool:
    """Whether ``path`` (``"outcome.rule"``) of ``object_type`` is declared optional."""
    node: Any = OPTIONAL.get(object_type)
    for part in path.split("."):
        if not isinstance(node, dict) or node is _LEAF:
            return False
        node = node.get(part)
    return node is _LEAF
