"""Stripe's form encoding: ``a[b][c]=v``, ``a[]=v`` and ``a[0][x]=v`` into nested dicts and lists.

Stripe's SDKs send every v1 request body (and GET query) this way. Parsing is strict: a key that
mixes shapes (``a=1`` and ``a[b]=2``) is a client error, reported as :class:`FormError` so the app
answers 400 instead of guessing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A body or query string that cannot be read as Stripe form encoding."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def parse_form(raw: str | bytes) -> dict[str, Any]:
    """Parse an ``application/x-www-form-urlencoded`` body or query string into nested params."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError("Invalid request body: it is not valid UTF-8.") from exc
    pairs = parse_qsl(raw, keep_blank_values=True)
    return build_nested(pairs)


def build_nested(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Fold ``(key, value)`` pairs with bracket keys into nested dicts; numeric-keyed dicts become lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        m = _KEY.match(key)
        if m is None:
            raise FormError(f"Invalid parameter name: {key!r}.", param=key)
        parts = [m.group(1)] + _PART.findall(m.group(2))
        _insert(root, parts, value, key)
    return _listify(root)


_APPEND = object()


def _insert(node: dict[str, Any], parts: list[str], value: Any, full: str) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            # ``a[]`` appends; we key appended items by a running index so _listify orders them.
            part = f"\x00{len(node)}"
        if last:
            if part in node and isinstance(node[part], dict):
                raise FormError(f"Invalid parameter: {full} mixes a value and a hash.", param=full)
            node[part] = value
            return
        child = node.get(part)
        if child is None:
            child = {}
            node[part] = child
        elif not isinstance(child, dict):
            raise FormError(f"Invalid parameter: {full} mixes a value and a hash.", param=full)
        node = child


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.startswith("\x00") for k in node):
        return [_listify(v) for _, v in sorted(node.items(), key=lambda kv: int(kv[0][1:]))]
    if node and all(k.isdigit() for k in node):
        return [_listify(v) for _, v in sorted(node.items(), key=lambda kv: int(kv[0]))]
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k.startswith("\x00"):
            raise FormError("Invalid parameter: an array (key[]) mixed with named keys.")
        out[k] = _listify(v)
    return out
