"""Checking one response body, event or webhook delivery against :mod:`stripe_spec`'s schemas."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from stripe_spec import Spec


class Checker:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._validators: dict[str, Draft202012Validator] = {}

    def _validator(self, key: str) -> Draft202012Validator:
        v = self._validators.get(key)
        if v is None:
            if key == "@error":
                schema = self.spec.error_schema
            elif key.startswith("@deleted:"):
                name = "Deleted" + self.spec.by_object[key[9:]]
                schema = {"$ref": self.spec._ref(name, None), "$defs": self.spec.defs}
            else:
                schema = self.spec.object_schema(key)
            v = self._validators[key] = Draft202012Validator(schema)
        return v

    def kind(self, body: Any, status: int = 200) -> str:
        """What a body is, for the totals: an object type, ``list``, ``event`` or ``error``."""
        if status >= 400:
            return "error"
        return str(body.get("object")) if isinstance(body, dict) else "?"

    def problems(self, body: Any, status: int = 200, where: str = "$") -> list[str]:
        """Every way ``body`` differs from Stripe's description (empty: valid)."""
        if status >= 400:
            return self._run("@error", body, where)
        if not isinstance(body, dict):
            return [f"{where}: not an object"]
        obj = body.get("object")
        if obj in ("list", "search_result"):
            out = self._run_list(body, where)
            for i, item in enumerate(body.get("data") or []):
                out += self.problems(item, 200, f"{where}.data[{i}]")
            return out
        if obj not in self.spec.by_object:
            return [f"{where}: unknown object type {obj!r}"]
        key = f"@deleted:{obj}" if body.get("deleted") is True else str(obj)
        out = self._run(key, body, where)
        if obj == "event":
            data = body.get("data") or {}
            out += self.problems(data.get("object"), 200, f"{where}.data.object")
        return out

    def _run_list(self, body: dict[str, Any], where: str) -> list[str]:
        required = {"object", "data", "has_more", "url"}
        if body.get("object") == "search_result":
            required |= {"next_page"}
        allowed = required | {"total_count"}
        out = [f"{where}: list lacks {k!r}" for k in sorted(required - set(body))]
        out += [f"{where}: list has unknown {k!r}" for k in sorted(set(body) - allowed)]
        return out

    def _run(self, key: str, body: Any, where: str) -> list[str]:
        out = []
        for err in self._validator(key).iter_errors(body):
            path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                   for p in err.absolute_path)
            out.append(f"{path}: {_message(err)}")
        return out


def _message(err: Any) -> str:
    """A short message; for ``anyOf`` failures, the branch that got furthest into the value."""
    while err.validator == "anyOf" and err.context:
        err = max(err.context, key=lambda e: len(list(e.relative_path)))
        if not list(err.relative_path):
            break
        rel = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.relative_path)
        return f"{rel[1:] if rel.startswith('.') else rel}: {_message(err)}"
    return err.message[:300]
