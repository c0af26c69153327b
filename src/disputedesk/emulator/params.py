"""Reading request params the way Stripe validates them (types, enums, metadata, lists).

Every reader raises a Stripe-shaped 400 naming the param, so handlers stay short:
``amount = params.integer(p, "amount", minimum=1)``.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, Callable, Iterable

from . import errors
from .state import Collection, Obj

_MISSING = object()


def reject_unknown(params: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed_set = set(allowed) | {"expand"}
    for key in params:
        if key not in allowed_set:
            raise errors.parameter_unknown(key)


def string(p: dict[str, Any], name: str, *, required: bool = False, max_length: int | None = None,
           nullable: bool = False) -> str | None:
    value = p.get(name, _MISSING)
    if value is _MISSING:
        if required:
            raise errors.parameter_missing(name)
        return None
    if not isinstance(value, str):
        raise errors.invalid(f"Invalid string: {name} must be a string, not a hash or array.",
                             param=name, code="parameter_invalid_string")
    if value == "":
        if nullable:
            return None
        if required:
            raise errors.invalid(
                f"You passed an empty string for '{name}'. We assume empty values are an attempt "
                "to unset a parameter; however '" + name + "' cannot be unset. You should remove "
                f"'{name}' from your request or supply a non-empty value.",
                param=name, code="parameter_invalid_empty")
    if max_length is not None and len(value) > max_length:
        raise errors.invalid(f"Invalid {name}: must be at most {max_length} characters",
                             param=name, code="parameter_invalid_string")
    return value


def integer(p: dict[str, Any], name: str, *, required: bool = False, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    value = p.get(name, _MISSING)
    if value is _MISSING or value == "":
        if required:
            raise errors.parameter_missing(name)
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 20:
        n = int(value)
    else:
        shown = value if isinstance(value, str) else "a hash or array"
        raise errors.invalid(f"Invalid integer: {shown}", param=name,
                             code="parameter_invalid_integer")
    if minimum is not None and n < minimum:
        raise errors.invalid(f"Invalid integer: {name} must be at least {minimum}.",
                             param=name, code="parameter_invalid_integer")
    if maximum is not None and n > maximum:
        raise errors.invalid(f"Invalid integer: {name} must be at most {maximum}.",
                             param=name, code="parameter_invalid_integer")
    return n


def boolean(p: dict[str, Any], name: str, default: bool | None = None) -> bool | None:
    value = p.get(name, _MISSING)
    if value is _MISSING or value == "":
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    shown = value if isinstance(value, str) else "a hash or array"
    raise errors.invalid(f"Invalid boolean: {shown}", param=name,
                         code="parameter_invalid_boolean")


def enum(p: dict[str, Any], name: str, choices: Iterable[str], *, required: bool = False,
         nullable: bool = False) -> str | None:
    value = string(p, name, required=required, nullable=nullable)
    if value is None:
        return None
    options = list(choices)
    if value not in options:
        listed = ", ".join(options[:-1]) + (", or " if len(options) > 1 else "") + options[-1]
        raise errors.invalid(f"Invalid {name}: must be one of {listed}", param=name)
    return value


def hash_(p: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = p.get(name, _MISSING)
    if value is _MISSING or value == "":
        return None
    if not isinstance(value, dict):
        raise errors.invalid(f"Invalid object: {name} must be a hash.", param=name)
    return value


def string_list(p: dict[str, Any], name: str) -> list[str] | None:
    value = p.get(name, _MISSING)
    if value is _MISSING or value == "":
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):  # a[0]=x with a gap parses as a hash: still an array to Stripe
        value = [v for _, v in sorted(value.items())]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.invalid(f"Invalid array: {name} must be an array of strings.", param=name)
    return value


def apply_metadata(current: dict[str, str] | None, p: dict[str, Any]) -> dict[str, str]:
    """Stripe's metadata update: keys merge, ``""`` deletes a key, ``metadata=""`` clears all."""
    result = dict(current or {})
    if "metadata" not in p:
        return result
    value = p["metadata"]
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise errors.invalid("Invalid metadata: metadata must be a hash of strings.",
                             param="metadata")
    for k, v in value.items():
        if not isinstance(v, str):
            raise errors.invalid(f"Invalid value for metadata[{k}]: must be a string.",
                                 param=f"metadata[{k}]")
        if len(k) > 40:
            raise errors.invalid(f"Metadata keys can have up to 40 characters; '{k[:40]}...' "
                                 "has more.", param=f"metadata[{k[:40]}]")
        if len(v) > 500:
            raise errors.invalid(f"Metadata values can have up to 500 characters, but you "
                                 f"passed in a value that is {len(v)} characters.",
                                 param=f"metadata[{k}]")
        if v == "":
            result.pop(k, None)
        else:
            result[k] = v
    if len(result) > 50:
        raise errors.invalid("You can have up to 50 metadata keys.", param="metadata")
    return result


def expand_list(p: dict[str, Any]) -> list[str]:
    return string_list(p, "expand") or []


# ----------------------------------------------------------------------------- lists

def created_bounds(p: dict[str, Any], name: str = "created") -> dict[str, int] | None:
    """``created=123`` or ``created[gte]=...&created[lt]=...`` as {op: bound} (None: no filter)."""
    value = p.get(name, _MISSING)
    if value is _MISSING or value == "":
        return None
    if not isinstance(value, dict):
        exact = integer(p, name)
        return {"gte": exact, "lte": exact}
    bounds: dict[str, int] = {}
    for op, raw in value.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise errors.parameter_unknown(f"{name}[{op}]")
        n = integer({"v": raw}, "v")
        if n is None:
            continue
        bounds[op] = n
    return bounds


def created_filter(p: dict[str, Any], name: str = "created") -> Callable[[int], bool] | None:
    """The same as a predicate on a timestamp."""
    bounds = created_bounds(p, name)
    if bounds is None:
        return None

    def check(t: int) -> bool:
        return (("gt" not in bounds or t > bounds["gt"]) and ("gte" not in bounds or t >= bounds["gte"])
                and ("lt" not in bounds or t < bounds["lt"]) and ("lte" not in bounds or t <= bounds["lte"]))
    return check


LIST_PARAMS = ("limit", "starting_after", "ending_before", "created")


def page(coll: Collection, ids: list[str], p: dict[str, Any], url: str,
         predicate: Callable[[Obj], bool] | None = None) -> tuple[list[Obj], bool]:
    """Newest-first page of ``ids`` (a creation-ordered subset of ``coll``) per Stripe's cursors.

    Returns the stored objects (not copies) and ``has_more``.
    """
    limit = integer(p, "limit", minimum=1, maximum=100)
    limit = 10 if limit is None else limit
    starting_after = string(p, "starting_after", nullable=True)
    ending_before = string(p, "ending_before", nullable=True)
    if starting_after and ending_before:
        raise errors.invalid("You may only specify one of these parameters: ending_before, "
                             "starting_after.", param="ending_before")
    bounds = created_bounds(p)
    created = created_filter(p)
    objects = coll.objects
    lo, hi = 0, len(ids)
    if bounds and coll.in_time_order:
        # ids are in creation order and so in created order: bisect the bounds instead of
        # walking the objects outside them (a has_more check would otherwise walk them all)
        key = coll.created_of
        if "gt" in bounds or "gte" in bounds:
            lo = max(bisect.bisect_right(ids, bounds["gt"], key=key) if "gt" in bounds else 0,
                     bisect.bisect_left(ids, bounds["gte"], key=key) if "gte" in bounds else 0)
        if "lt" in bounds or "lte" in bounds:
            hi = min(bisect.bisect_left(ids, bounds["lt"], key=key) if "lt" in bounds else hi,
                     bisect.bisect_right(ids, bounds["lte"], key=key) if "lte" in bounds else hi)

    def ok(oid: str) -> bool:
        obj = objects.get(oid)
        if obj is None:
            return False
        if created is not None and not created(obj["created"]):
            return False
        return predicate is None or predicate(obj)

    def cursor_index(cursor: str, param: str) -> int:
        pos = coll.position.get(cursor)
        if pos is None:
            raise errors.missing(coll.object_type.split(".")[-1].replace("_", " "), cursor,
                                 param=param)
        return bisect.bisect_left(ids, pos, key=coll.position.__getitem__)

    out: list[Obj] = []
    if ending_before:
        i = cursor_index(ending_before, "ending_before")
        if i < len(ids) and ids[i] == ending_before:
            i += 1
        j = max(i, lo)
        while j < hi and len(out) < limit:
            if ok(ids[j]):
                out.append(objects[ids[j]])
            j += 1
        has_more = any(ok(ids[k]) for k in range(j, hi))
        out.reverse()
        return out, has_more
    j = hi - 1
    if starting_after:
        j = min(j, cursor_index(starting_after, "starting_after") - 1)
    while j >= lo and len(out) < limit:
        if ok(ids[j]):
            out.append(objects[ids[j]])
        j -= 1
    has_more = False
    while j >= lo:
        if ok(ids[j]):
            has_more = True
            break
        j -= 1
    return out, has_more


# ----------------------------------------------------------------------------- shapes

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def email(p: dict[str, Any], name: str, *, nullable: bool = True) -> str | None:
    """An email address param (``receipt_email``): Stripe's 400 ``email_invalid`` otherwise."""
    value = string(p, name, nullable=nullable, max_length=800)
    if value is not None and not _EMAIL.match(value):
        raise errors.invalid(f"Invalid email address: {value}", param=name, code="email_invalid")
    return value


ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


def address(value: Any, name: str) -> dict[str, str | None]:
    """An address hash as Stripe renders it: all six fields, ``null`` when not given."""
    if not isinstance(value, dict):
        raise errors.invalid(f"Invalid object: {name} must be a hash.", param=name)
    for key in value:
        if key not in ADDRESS_FIELDS:
            raise errors.parameter_unknown(f"{name}[{key}]")
    return {k: string(value, k, max_length=5000, nullable=True) for k in ADDRESS_FIELDS}


def shipping(p: dict[str, Any], name: str = "shipping") -> dict[str, Any] | None:
    """``shipping[...]`` (name and address required) in the shape Stripe renders."""
    value = p.get(name, _MISSING)
    if value is _MISSING or value == "":
        return None
    if not isinstance(value, dict):
        raise errors.invalid(f"Invalid object: {name} must be a hash.", param=name)
    for key in value:
        if key not in ("address", "carrier", "name", "phone", "tracking_number"):
            raise errors.parameter_unknown(f"{name}[{key}]")
    if "address" not in value:
        raise errors.parameter_missing(f"{name}[address]")
    if not value.get("name"):
        raise errors.parameter_missing(f"{name}[name]")
    out: dict[str, Any] = {"address": address(value["address"], f"{name}[address]")}
    for key in ("carrier", "name", "phone", "tracking_number"):
        out[key] = string(value, key, max_length=5000, nullable=True)
    return out


# param type names for :func:`check_types`
_CHECKS: dict[str, Callable[[dict[str, Any], str], Any]] = {
    "string": lambda p, n: string(p, n, max_length=5000, nullable=True),
    "integer": lambda p, n: integer(p, n, minimum=0),
    "boolean": lambda p, n: boolean(p, n),
    "hash": lambda p, n: hash_(p, n),
    "string_list": lambda p, n: string_list(p, n),
    "email": lambda p, n: email(p, n),
    "boolean_or_hash": lambda p, n: (hash_(p, n) if isinstance(p.get(n), dict)
                                     else boolean(p, n)),
}


def check_types(p: dict[str, Any], types: dict[str, str]) -> None:
    """Refuse a wrongly typed value for params that are accepted without changing state."""
    for name, kind in types.items():
        if name in p:
            _CHECKS[kind](p, name)
