"""Compose a dispute's evidence from the charge, the customer's history, the order and text templates.

Inputs are Stripe-shaped dicts (the dispute, its charge, the customer's other charges) and the
merchant's order as a plain dict. The order keys the composer reads (all optional)::

    id, customer_name, customer_email, customer_account_id, customer_purchase_ip (or ip),
    device_fingerprint, device_id, product_type, product_description,
    items: [{name, description, quantity}], service_date,
    shipping: {address: {line1, line2, city, state, postal_code, country}, carrier,
               tracking_number (str or list), shipped_at, delivered_at},
    access_log: [{at, ip, action, detail}], terms_accepted_at, renewal_notice_sent_at,
    customer_contacted_support (bool), duplicate_charge_id,
    and any Stripe evidence text field by its own name (e.g. refund_refusal_explanation).

Dates may be epoch seconds or ISO 8601 strings. Every filled field records its source: ``charge``,
``order``, ``history``, ``template`` or ``manual``; manual values override composed ones.
"""

from __future__ import annotations

import functools
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import resources
from typing import Any, Iterable, Mapping

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from disputedesk.domain.disputes import FRAUD_REASONS, network_reason_code
from disputedesk.domain.money import format_money
from disputedesk.errors import ValidationError
from disputedesk.evidence.identifiers import (
    DEFAULT_KEYS,
    MetadataKeys,
    card_of,
    charge_identifiers,
    format_address,
)
from disputedesk.evidence.limits import (
    FILE_FIELDS,
    LONG_TEXT_MAX,
    TEXT_FIELDS,
    text_limit,
)
from disputedesk.evidence.templates import (
    PRODUCT_TYPES,
    Completeness,
    EvidenceTemplate,
    Missing,
    completeness,
    template_for,
)

SOURCES = ("charge", "order", "history", "template", "manual")
TEXT_TEMPLATE_NAMES = ("refund_policy_disclosure", "cancellation_policy_disclosure", "rebuttal_letter")
MAX_TEMPLATE_SOURCE = 50_000  # characters of template source a merchant may store


# --- small formatting helpers --------------------------------------------------------------------

def to_epoch(value: Any) -> int | None:
    """Epoch seconds from an int, a float, or an ISO 8601 date/datetime string (naive = UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(f"'{value}' is not a date", hint="use epoch seconds or 2026-03-04")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"cannot read the date '{text}'",
                                  hint="use epoch seconds or ISO 8601, e.g. 2026-03-04") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def human_date(value: Any) -> str:
    """"March 4, 2026" (UTC), the human-readable form Stripe asks for in date fields."""
    epoch = to_epoch(value)
    if epoch is None:
        return ""
    dt = datetime.fromtimestamp(epoch, timezone.utc)
    return f"{dt:%B} {dt.day}, {dt.year}"


def human_datetime(value: Any) -> str:
    epoch = to_epoch(value)
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _join(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        text = ", ".join(str(v).strip() for v in value if v and str(v).strip())
    else:
        text = str(value).strip()
    return text or None


# --- what the charge says about the payment ------------------------------------------------------

def charge_checks(charge: Mapping[str, Any]) -> dict[str, Any]:
    """AVS, CVC, 3-D Secure and Radar facts of a charge, raw and as short sentences."""
    card = card_of(charge)
    checks = card.get("checks") or {}
    tds = card.get("three_d_secure") or {}
    outcome = charge.get("outcome") or {}
    line1, postal = checks.get("address_line1_check"), checks.get("address_postal_code_check")
    avs_parts = [f"street {line1}" if line1 else None, f"postal code {postal}" if postal else None]
    avs_text = ", ".join(p for p in avs_parts if p)
    result = tds.get("result")
    tds_text = ""
    if result:
        tds_text = result.replace("_", " ")
        if tds.get("authentication_flow"):
            tds_text += f" ({tds['authentication_flow']})"
        if tds.get("version"):
            tds_text += f", version {tds['version']}"
        if result == "authenticated":
            tds_text += "; the issuer authenticated the cardholder, shifting fraud liability"
        elif result == "attempt_acknowledged":
            tds_text += "; the issuer acknowledged the attempt, which usually shifts fraud liability"
    return {
        "address_line1_check": line1,
        "address_postal_code_check": postal,
        "cvc_check": checks.get("cvc_check"),
        "avs_text": avs_text,
        "three_d_secure": result,
        "three_d_secure_flow": tds.get("authentication_flow"),
        "three_d_secure_version": tds.get("version"),
        "three_d_secure_text": tds_text,
        "liability_shift": result in ("authenticated", "attempt_acknowledged"),
        "risk_level": outcome.get("risk_level"),
        "risk_score": outcome.get("risk_score"),
        "outcome_type": outcome.get("type"),
        "network_status": outcome.get("network_status"),
        "wallet": (card.get("wallet") or {}).get("type"),
        "brand": card.get("brand"),
        "last4": card.get("last4"),
        "card_fingerprint": card.get("fingerprint"),
    }


@dataclass(frozen=True)
class HistorySummary:
    prior_count: int = 0
    undisputed_count: int = 0
    disputed_count: int = 0
    refunded_count: int = 0
    same_card_count: int = 0
    first_at: int | None = None
    charges: tuple[Mapping[str, Any], ...] = ()

    def as_context(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("prior_count", "undisputed_count", "disputed_count",
                                                "refunded_count", "same_card_count", "first_at")}


def is_paid(charge: Mapping[str, Any]) -> bool:
    return charge.get("status") == "succeeded" and charge.get("paid", True) is not False


def customer_history(charge: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> HistorySummary:
    """The customer's paid charges before the disputed one, newest first."""
    created = int(charge.get("created") or 0)
    fingerprint = card_of(charge).get("fingerprint")
    prior = sorted(
        (c for c in history if c.get("id") != charge.get("id") and int(c.get("created") or 0) < created
         and is_paid(c)),
        key=lambda c: -int(c.get("created") or 0),
    )
    undisputed = [c for c in prior if not c.get("disputed")]
    return HistorySummary(
        prior_count=len(prior),
        undisputed_count=len(undisputed),
        disputed_count=len(prior) - len(undisputed),
        refunded_count=sum(1 for c in prior if c.get("refunded")),
        same_card_count=sum(1 for c in undisputed if fingerprint and card_of(c).get("fingerprint") == fingerprint),
        first_at=min((int(c.get("created") or 0) for c in undisputed), default=None),
        charges=tuple(prior),
    )


def find_duplicate_candidate(charge: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The other paid charge of the same amount, currency and card closest in time, if any."""
    fingerprint = card_of(charge).get("fingerprint")
    created = int(charge.get("created") or 0)
    same = [c for c in history
            if c.get("id") != charge.get("id") and is_paid(c)
            and c.get("amount") == charge.get("amount") and c.get("currency") == charge.get("currency")
            and (not fingerprint or card_of(c).get("fingerprint") == fingerprint)]
    return min(same, key=lambda c: abs(int(c.get("created") or 0) - created), default=None)


# --- merchant-editable text templates ------------------------------------------------------------

class _LenientUndefined(ChainableUndefined):
    """Missing values render as nothing (``order.shipping.carrier`` with no shipping is ""), but an
    attribute the sandbox blocks fails loudly instead of quietly rendering as nothing."""

    __slots__ = ()

    def __init__(self, hint=None, obj=missing, name=None, exc=UndefinedError) -> None:  # type: ignore[no-untyped-def]
        if exc is SecurityError:
            raise SecurityError(hint or f"access to {name!r} is not allowed")
        super().__init__(hint, obj, name, exc)


# Limits on what a merchant's template may cost. Templates render on every evidence view, build,
# preview and automation run, so one written to burn CPU or memory (``{{ 'x' * 300000000 }}``,
# nested ranges, a macro that calls itself twice) must be refused quickly, not run.
MAX_RENDERED = 20_000        # characters a template may produce (the longest evidence field)
MAX_SEQUENCE = 100_000       # characters/items a single string or list operation may produce
MAX_RANGE = 10_000           # items one range() may give
MAX_STEPS = 200_000          # loop iterations + calls + intercepted operators in one render
MAX_INT_BITS = 4_096         # integers templates may compute
_SAFE_STR_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
    "isascii", "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper",
    "lower", "lstrip", "partition", "removeprefix", "removesuffix", "rfind", "rindex",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper", "format", "format_map", "replace", "join", "center", "ljust", "rjust",
    "zfill", "expandtabs"})
_budget: ContextVar[list[int] | None] = ContextVar("disputedesk_template_budget", default=None)


class TemplateTooExpensive(TemplateError):
    """A template asked for more work or output than the limits allow."""


def _charge(steps: int = 1) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget[0] += steps
    if budget[0] > MAX_STEPS:
        raise TemplateTooExpensive(
            f"it needs more than {MAX_STEPS:,} steps (loops, calls and operations)")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _check_size(n: int, what: str) -> None:
    if n > MAX_SEQUENCE:
        raise TemplateTooExpensive(f"{what} would make {n:,} characters or items; the limit "
                                   f"is {MAX_SEQUENCE:,}")


_FORMAT_WIDTH = re.compile(r"\d+")


def _check_format_widths(fmt: Any) -> None:
    if isinstance(fmt, str):
        for number in _FORMAT_WIDTH.findall(fmt):
            if len(number) > 6 or int(number) > MAX_SEQUENCE:
                raise TemplateTooExpensive(f"a format width of {number} is over {MAX_SEQUENCE:,}")


def _capped_range(*args: Any) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateTooExpensive(f"range() of {len(rng):,} items is over the {MAX_RANGE:,} allowed")
    _charge(len(rng) // 10)
    return rng


def _loop_guard(iterable: Any) -> Any:
    """Wraps every ``{% for %}`` iterable: each iteration costs a step of the render's budget."""
    for item in iterable:
        _charge()
        yield item


def _int_args(args: tuple, kwargs: Mapping[str, Any], what: str) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SEQUENCE:
            raise TemplateTooExpensive(f"{what}({value:,}) is over the {MAX_SEQUENCE:,} allowed")


class _GuardTransformer(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_LOOP_GUARD, "load", lineno=node.lineno), [node.iter],
                               [], None, None, lineno=node.lineno)
        return node


_LOOP_GUARD = "dd_loop_guard"


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with limits on work and size.

    The stock sandbox stops access to Python internals but not a template that asks for a 300 MB
    string or a hundred million loop iterations. This one refuses string/list repetition and
    concatenation beyond :data:`MAX_SEQUENCE`, huge integers, ``range`` over :data:`MAX_RANGE`,
    padding and format widths over :data:`MAX_SEQUENCE`, and charges every loop iteration, call and
    operator to a per-render budget of :data:`MAX_STEPS`. :meth:`TextTemplates.render` also stops
    the output at :data:`MAX_RENDERED` characters.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "-"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _capped_range
        self.globals[_LOOP_GUARD] = _loop_guard
        for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice", "format"):
            self.filters[name] = self._guarded_filter(name, self.filters[name])

    @staticmethod
    def _guarded_filter(name: str, fn: Any) -> Any:
        @functools.wraps(fn)  # keeps jinja's pass_* markers
        def guarded(*args: Any, **kwargs: Any) -> Any:
            _charge()
            _int_args(args[1:], kwargs, name)
            if name == "format":
                _check_format_widths(next((a for a in args if isinstance(a, str)), None))
            return fn(*args, **kwargs)
        return guarded

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _GuardTransformer().visit(super()._parse(source, name, filename))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _charge()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if _size(seq) is not None and isinstance(times, int):
                    _check_size(_size(seq) * max(times, 0), "repeating a string or list")
            if (isinstance(left, int) and isinstance(right, int)
                    and left.bit_length() + right.bit_length() > MAX_INT_BITS):
                raise TemplateTooExpensive("the number would be too large")
        elif operator == "**":
            if (isinstance(left, int) and isinstance(right, int) and abs(left) > 1
                    and right > 0 and left.bit_length() * right > MAX_INT_BITS):
                raise TemplateTooExpensive("the number would be too large")
        elif operator == "+":
            if _size(left) is not None and _size(right) is not None:
                _check_size(_size(left) + _size(right), "joining strings or lists")
        elif operator == "%" and isinstance(left, str):
            _check_format_widths(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # A macro call runs a whole template body: charge it more than a method call.
        _charge(10 if isinstance(__obj, Macro) else 1)
        # The sandbox wraps str.format in a plain function; __wrapped__ leads to the bound method.
        target = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(target, "__self__", None)
        method = getattr(target, "__name__", "")
        if isinstance(owner, str):
            if method not in _SAFE_STR_METHODS:
                raise TemplateTooExpensive(f"the string method {method}() is not available")
            if method in ("center", "ljust", "rjust", "zfill", "expandtabs"):
                _int_args(args, kwargs, method)
                if method == "expandtabs":
                    _check_size(len(owner) * max(int(args[0]) if args else 8, 1), method)
            elif method in ("format", "format_map"):
                _check_format_widths(owner)
            elif method == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                if len(new) > len(old):
                    grow = (len(owner) // max(len(old), 1) + 1) * (len(new) - len(old))
                    _check_size(len(owner) + grow, "replace()")
            elif method == "join" and args and _size(args[0]) is not None:
                parts = args[0]
                _check_size(sum(len(str(p)) for p in parts[:MAX_SEQUENCE + 1])
                            + len(owner) * max(len(parts) - 1, 0), "join()")
        result = super().call(__context, __obj, *args, **kwargs)
        if _size(result) is not None:
            _check_size(_size(result), f"{method or 'the call'}()")
        return result


def _env() -> LimitedSandbox:
    env = LimitedSandbox(
        undefined=_LenientUndefined, autoescape=False, keep_trailing_newline=False,
        finalize=lambda v: "" if v is None else v,
    )
    env.filters["date"] = human_date
    env.filters["datetime"] = human_datetime
    env.filters["money"] = lambda amount, currency: format_money(int(amount), currency)
    return env


@functools.cache
def _shared_env() -> LimitedSandbox:
    # The environment holds no per-render state (the step budget is a context variable), so one
    # per process is safe, and compiled templates can be reused across renders and threads.
    return _env()


@functools.lru_cache(maxsize=64)
def _compiled(source: str):
    """Compiling a template costs ~20 ms; evidence is composed for every view, build and rule."""
    return _shared_env().from_string(source)


def default_template_source(name: str) -> str:
    if name not in TEXT_TEMPLATE_NAMES:
        raise ValidationError(f"no text template named '{name}'", param="template",
                              hint=f"one of: {', '.join(TEXT_TEMPLATE_NAMES)}")
    return resources.files("disputedesk.evidence").joinpath(f"templates/{name}.txt.j2").read_text("utf-8")


class TextTemplates:
    """The three text templates, the shipped defaults overridden by the merchant's edits.

    Rendering happens in Jinja2's immutable sandbox: templates can read the context but cannot
    call methods that change it or reach Python internals (``__class__``, ``__globals__``, ...).
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._env = _shared_env()
        self._sources: dict[str, str] = {}
        for name, source in (overrides or {}).items():
            self.set(name, source)

    def set(self, name: str, source: str) -> None:
        """Store a merchant's template after checking it compiles."""
        if name not in TEXT_TEMPLATE_NAMES:
            raise ValidationError(f"no text template named '{name}'", param="template",
                                  hint=f"one of: {', '.join(TEXT_TEMPLATE_NAMES)}")
        if len(source) > MAX_TEMPLATE_SOURCE:
            raise ValidationError(f"template '{name}' is {len(source):,} characters",
                                  param=name, hint=f"keep it under {MAX_TEMPLATE_SOURCE:,}")
        try:
            self._env.parse(source)
        except TemplateSyntaxError as exc:
            raise ValidationError(f"template '{name}' line {exc.lineno}: {exc.message}", param=name,
                                  hint="fix the Jinja2 syntax") from exc
        self._sources[name] = source

    def source(self, name: str) -> str:
        return self._sources.get(name) or default_template_source(name)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        token = _budget.set([0])
        try:
            text = self._render_capped(name, context)
        except TemplateTooExpensive as exc:
            raise ValidationError(
                f"template '{name}' was stopped: {exc}", param=name,
                hint="simplify the template; it renders on every evidence view and build, so it "
                     f"must stay within {MAX_RENDERED:,} characters of output and small loops") from exc
        except RecursionError as exc:
            raise ValidationError(f"template '{name}' calls itself too deeply", param=name,
                                  hint="remove the recursive macro") from exc
        except MemoryError as exc:
            raise ValidationError(f"template '{name}' needs too much memory", param=name,
                                  hint="simplify the template") from exc
        except SecurityError as exc:
            raise ValidationError(
                f"template '{name}' tries to reach something templates may not use: {exc}",
                param=name, hint="use only the variables listed in docs/evidence.md") from exc
        except UndefinedError as exc:
            raise ValidationError(f"template '{name}': {exc.message}", param=name,
                                  hint="use only the variables listed in docs/evidence.md") from exc
        except TemplateError as exc:
            raise ValidationError(f"template '{name}' failed: {exc}", param=name) from exc
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise ValidationError(f"template '{name}' failed: {exc}", param=name) from exc
        finally:
            _budget.reset(token)
        return _tidy(text)

    def _render_capped(self, name: str, context: Mapping[str, Any]) -> str:
        """Render chunk by chunk, stopping as soon as the output passes :data:`MAX_RENDERED`."""
        template = _compiled(self.source(name))
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_RENDERED:
                raise TemplateTooExpensive(
                    f"it renders more than {MAX_RENDERED:,} characters")
            chunks.append(chunk)
        return "".join(chunks)


def _tidy(text: str) -> str:
    lines = [ln.rstrip() for ln in text.strip().splitlines()]
    out: list[str] = []
    for ln in lines:
        if not ln and out and not out[-1]:
            continue
        out.append(ln)
    return "\n".join(out)


# --- the composed result -------------------------------------------------------------------------

@dataclass
class ComposedEvidence:
    dispute_id: str | None
    reason: str
    product_type: str
    template: EvidenceTemplate
    fields: dict[str, str]
    sources: dict[str, str]
    attached: dict[str, str] = field(default_factory=dict)  # file field -> source of the document
    completeness: Completeness | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return self.completeness.score if self.completeness else 0

    @property
    def missing(self) -> tuple[Missing, ...]:
        return self.completeness.missing if self.completeness else ()

    def to_params(self) -> dict[str, str]:
        """The text part of ``evidence[...]`` for ``POST /v1/disputes/{id}`` (files added later)."""
        return {k: v for k, v in self.fields.items() if v}


def _reason_text(reason: str) -> str:
    return reason.replace("_", " ")


def _access_log(entries: Iterable[Mapping[str, Any]]) -> str | None:
    lines = []
    for e in sorted(entries, key=lambda e: to_epoch(e.get("at")) or 0):
        parts = [human_datetime(e.get("at")), e.get("ip") or "", e.get("action") or "access",
                 e.get("detail") or ""]
        lines.append("  ".join(str(p) for p in parts if p))
    if not lines:
        return None
    # Keep the newest activity if the log is longer than the field allows.
    out, size = [], 0
    for ln in reversed(lines):
        if size + len(ln) + 1 > LONG_TEXT_MAX - 80:
            out.append(f"... {len(lines) - len(out)} earlier entries omitted")
            break
        out.append(ln)
        size += len(ln) + 1
    return "\n".join(reversed(out))


def _product_description(order: Mapping[str, Any]) -> str | None:
    if order.get("product_description"):
        return str(order["product_description"]).strip()
    items = order.get("items") or []
    lines = []
    for item in items:
        qty = item.get("quantity")
        head = f"{qty} x {item.get('name')}" if qty else str(item.get("name") or "")
        desc = item.get("description")
        lines.append(f"{head}: {desc}" if desc else head)
    return "\n".join(ln for ln in lines if ln) or None


def compose_evidence(
    dispute: Mapping[str, Any],
    charge: Mapping[str, Any],
    *,
    history: Iterable[Mapping[str, Any]] = (),
    order: Mapping[str, Any] | None = None,
    product_type: str | None = None,
    merchant: Mapping[str, Any] | None = None,
    text_templates: TextTemplates | None = None,
    manual: Mapping[str, str | None] | None = None,
    attachments: Mapping[str, str] | Iterable[str] = (),
    keys: MetadataKeys = DEFAULT_KEYS,
) -> ComposedEvidence:
    """Fill the evidence fields for ``dispute`` and score them against the reason's template.

    ``manual`` values win over composed ones (``None`` or ``""`` clears a field). ``attachments``
    names file fields with a document ready (mapping field -> source, or just the field names).
    """
    order = dict(order or {})
    merchant = dict(merchant or {})
    history = list(history)
    text_templates = text_templates or TextTemplates()
    reason = str(dispute.get("reason") or "general")
    product_type = product_type or order.get("product_type") or "physical_goods"
    if product_type not in PRODUCT_TYPES:
        raise ValidationError(f"unknown product type '{product_type}'", param="product_type",
                              hint=f"one of: {', '.join(PRODUCT_TYPES)}")
    template = template_for(reason, product_type)
    ids = charge_identifiers(charge, keys)
    order_ids = charge_identifiers({}, keys, order)

    fields: dict[str, str] = {}
    sources: dict[str, str] = {}

    def put(name: str, value: Any, source: str) -> None:
        text = _join(value)
        if text and name not in fields:
            fields[name] = text
            sources[name] = source

    # The merchant's order first: it is the record of what was sold and shipped.
    put("customer_name", order_ids.name, "order")
    put("customer_email_address", order_ids.email, "order")
    put("customer_purchase_ip", order_ids.ip, "order")
    shipping = order.get("shipping") if isinstance(order.get("shipping"), Mapping) else {}
    put("shipping_address", format_address(order_ids.shipping_address), "order")
    put("shipping_carrier", shipping.get("carrier"), "order")
    put("shipping_tracking_number", shipping.get("tracking_number") or shipping.get("tracking_numbers"), "order")
    if shipping.get("shipped_at"):
        put("shipping_date", human_date(shipping["shipped_at"]), "order")
    if order.get("service_date"):
        put("service_date", human_date(order["service_date"]), "order")
    put("product_description", _product_description(order), "order")
    if order.get("access_log"):
        put("access_activity_log", _access_log(order["access_log"]), "order")
    for name in sorted(TEXT_FIELDS):
        if name in order and name not in ("shipping_address", "service_date", "shipping_date"):
            put(name, order[name], "order")

    # Then the charge: what Stripe recorded at payment time.
    put("customer_name", ids.name, "charge")
    put("customer_email_address", ids.email, "charge")
    put("billing_address", format_address(ids.billing_address), "charge")
    put("customer_purchase_ip", ids.ip, "charge")
    put("shipping_address", format_address(ids.shipping_address), "charge")
    put("product_description", charge.get("description"), "charge")

    # The customer's history.
    summary = customer_history(charge, history)
    if reason == "duplicate" and "duplicate_charge_id" not in fields:
        twin = find_duplicate_candidate(charge, history)
        if twin is not None:
            put("duplicate_charge_id", twin.get("id"), "history")
            twin_order = (twin.get("metadata") or {}).get(keys.order_id[0])
            this_order = order.get("id") or (charge.get("metadata") or {}).get(keys.order_id[0])
            if twin_order and this_order and twin_order != this_order:
                put("duplicate_charge_explanation",
                    f"Charge {twin.get('id')} of {human_date(twin.get('created'))} paid for order "
                    f"{twin_order}; the disputed charge {charge.get('id')} of "
                    f"{human_date(charge.get('created'))} paid for a separate order, {this_order}. "
                    "Each order was fulfilled on its own.", "history")

    # Merchant-editable text: policy disclosures where the reason calls for them, and the letter.
    checks = charge_checks(charge)
    currency = str(dispute.get("currency") or charge.get("currency") or "usd")
    context = {
        "merchant": merchant,
        "dispute": {
            "id": dispute.get("id"), "reason": reason, "reason_text": _reason_text(reason),
            "status": dispute.get("status"), "amount": dispute.get("amount"), "currency": currency,
            "amount_text": format_money(int(dispute.get("amount") or 0), currency),
            "network_reason_code": network_reason_code(dispute),
        },
        "charge": {
            "id": charge.get("id"), "created": charge.get("created"),
            "amount_text": format_money(int(charge.get("amount") or 0), str(charge.get("currency") or currency)),
            "description": charge.get("description"),
            "statement_descriptor": charge.get("calculated_statement_descriptor") or charge.get("statement_descriptor"),
            "receipt_email_sent": bool(charge.get("receipt_email") or charge.get("receipt_number")),
        },
        "customer": {"name": fields.get("customer_name"), "email": fields.get("customer_email_address"),
                     "ip": fields.get("customer_purchase_ip"), "account_id": order_ids.account_id or ids.account_id},
        "order": order,
        "checks": checks,
        "history": summary.as_context(),
        "product_type": product_type,
        "fields": fields,
    }
    if "refund_policy_disclosure" in template.fields:
        put("refund_policy_disclosure", text_templates.render("refund_policy_disclosure", context), "template")
    if "cancellation_policy_disclosure" in template.fields:
        put("cancellation_policy_disclosure",
            text_templates.render("cancellation_policy_disclosure", context), "template")
    if template.contestable or "uncategorized_text" in template.fields:
        put("uncategorized_text", text_templates.render("rebuttal_letter", {**context, "fields": dict(fields)}),
            "template")

    # Manual values last: the person responding has the final word.
    notes: list[str] = []
    for name, value in (manual or {}).items():
        if name not in TEXT_FIELDS:
            hint = ("attach a document to it instead" if name in FILE_FIELDS
                    else "use a Stripe evidence text field name")
            raise ValidationError(f"'{name}' is not an evidence text field", param=name, hint=hint)
        if value is None or value == "":
            fields.pop(name, None)
            sources.pop(name, None)
        else:
            fields[name] = str(value)
            sources[name] = "manual"

    for name, text in fields.items():
        if len(text) > text_limit(name):
            notes.append(f"'{name}' is {len(text):,} characters, over its {text_limit(name):,} limit")

    attached = dict(attachments) if isinstance(attachments, Mapping) else {f: "manual" for f in attachments}
    bad = set(attached) - FILE_FIELDS
    if bad:
        raise ValidationError(f"not evidence file fields: {', '.join(sorted(bad))}", param=sorted(bad)[0],
                              hint="attach documents to file fields such as shipping_documentation")
    if reason in FRAUD_REASONS and checks["liability_shift"]:
        notes.append("3-D Secure liability shift: Stripe adds the ECI to the evidence automatically")
    return ComposedEvidence(
        dispute_id=dispute.get("id"), reason=reason, product_type=product_type, template=template,
        fields=fields, sources=sources, attached=attached,
        completeness=completeness(template, fields, attached), notes=notes,
    )
