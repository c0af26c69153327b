"""Rendering the merchant-editable text templates: a limited Jinja2 sandbox and ``{% claim %}``.

Each sentence a template writes sits inside ``{% claim "fact", ... %} ... {% endclaim %}``: the
block renders only when every fact it names is present, and the render records the sentence with
the records those facts came from. A template with text outside a claim is refused when it is
saved, so no sentence reaches the issuer without the facts it states.
"""

from __future__ import annotations

import functools
import re
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.ext import Extension
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from disputedesk.domain.money import format_money
from disputedesk.errors import ValidationError
from disputedesk.evidence.facts import FACTS, Fact, human_date, human_datetime

TEXT_TEMPLATE_NAMES = ("refund_policy_disclosure", "cancellation_policy_disclosure", "refund_refusal_explanation",
                       "cancellation_rebuttal", "rebuttal_letter")
MAX_TEMPLATE_SOURCE = 50_000  # characters of template source a merchant may store

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


# --- claims: each sentence names the facts it needs -----------------------------------------

@dataclass(frozen=True)
class Claim:
    """A rendered statement, the facts it declared and the records those facts came from."""

    text: str
    facts: tuple[str, ...]
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "facts": list(self.facts), "sources": list(self.sources)}


@dataclass
class _RenderState:
    facts: Mapping[str, Fact]
    claims: list[Claim]
    wanted: list[tuple[str, ...]]  # fact sets of claims that did not render


_render_state: ContextVar[_RenderState | None] = ContextVar("disputedesk_claims", default=None)


class ClaimExtension(Extension):
    """``{% claim "delivery", "shipment" %}The parcel was delivered ...{% endclaim %}``.

    The facts must be names from :data:`disputedesk.evidence.facts.FACTS`, written as string
    literals (checked when the template is parsed). The body renders only when every named fact
    is present; otherwise the block renders nothing.
    """

    tags = {"claim"}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        names: list[nodes.Expr] = []
        while parser.stream.current.type != "block_end":
            if names:
                parser.stream.expect("comma")
            expr = parser.parse_expression()
            if not isinstance(expr, nodes.Const) or not isinstance(expr.value, str):
                parser.fail("a claim names its facts as quoted strings, e.g. {% claim \"delivery\" %}",
                            lineno)
            if expr.value not in FACTS:
                parser.fail(f"unknown fact '{expr.value}' (known: {', '.join(FACTS)})", lineno)
            names.append(expr)
        if not names:
            parser.fail("a claim must name the facts it needs, e.g. {% claim \"delivery\" %}", lineno)
        body = parser.parse_statements(("name:endclaim",), drop_needle=True)
        call = self.call_method("_claim", [nodes.List(names)])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _claim(self, names: list[str], caller: Any) -> str:
        state = _render_state.get()
        facts = state.facts if state else {}
        if any(n not in facts for n in names):
            if state is not None:
                state.wanted.append(tuple(names))
            return ""
        text = caller()
        if state is not None and text.strip():
            sources = tuple(dict.fromkeys(facts[n].source for n in names))
            state.claims.append(Claim(" ".join(text.split()), tuple(names), sources))
        return text


def _is_claim(node: nodes.Node) -> bool:
    return (isinstance(node, nodes.CallBlock) and isinstance(node.call.node, nodes.ExtensionAttribute)
            and node.call.node.name == "_claim")


def unclaimed_text(tree: nodes.Node) -> list[tuple[int, str]]:
    """Output outside every claim block: (line, excerpt). Whitespace does not count."""
    found: list[tuple[int, str]] = []

    def walk(node: nodes.Node) -> None:
        if _is_claim(node):
            return
        if isinstance(node, nodes.Output):
            for part in node.nodes:
                if isinstance(part, nodes.TemplateData):
                    if part.data.strip():
                        found.append((part.lineno, part.data.strip()[:60]))
                elif not _is_claim(part):
                    found.append((part.lineno, "{{ ... }}"))
                    continue
                walk(part)
            return
        for child in node.iter_child_nodes():
            walk(child)

    walk(tree)
    return found


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
        extensions=[ClaimExtension],
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


@dataclass(frozen=True)
class Rendered:
    text: str
    claims: tuple[Claim, ...]
    wanted: tuple[tuple[str, ...], ...]  # fact sets of the claims left out

    @property
    def backed(self) -> bool:
        """Says something beyond naming the dispute: a claim on a fact other than the
        dispute and charge records themselves."""
        return any(set(c.facts) - {"dispute", "charge"} for c in self.claims)


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
            tree = self._env.parse(source)
        except TemplateSyntaxError as exc:
            raise ValidationError(f"template '{name}' line {exc.lineno}: {exc.message}", param=name,
                                  hint="fix the Jinja2 syntax") from exc
        loose = unclaimed_text(tree)
        if loose:
            line, excerpt = loose[0]
            raise ValidationError(
                f"template '{name}' line {line}: \"{excerpt}\" is outside a claim", param=name,
                hint="put every sentence inside {% claim \"fact\", ... %} ... {% endclaim %} naming "
                     "the facts it states (docs/evidence.md lists them), so it is sent only when "
                     "the desk holds those facts")
        self._sources[name] = source

    def source(self, name: str) -> str:
        return self._sources.get(name) or default_template_source(name)

    def render(self, name: str, context: Mapping[str, Any],
               facts: Mapping[str, Fact] | None = None) -> Rendered:
        """Render ``name``; only claims whose facts are all in ``facts`` appear."""
        token = _budget.set([0])
        state = _RenderState(facts=dict(facts or {}), claims=[], wanted=[])
        claims_token = _render_state.set(state)
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
            _render_state.reset(claims_token)
        return Rendered(_tidy(text), tuple(state.claims), tuple(state.wanted))

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


