"""The condition language: a small, safe expression form checked and evaluated by the desk itself.

A condition is parsed with :func:`ast.parse` in ``eval`` mode (parsing runs no code) and then
walked against a strict whitelist of node types. Anything else -- attribute access on values,
calls to anything but the desk's functions, lambdas, comprehensions, f-strings, ``**``, walrus,
subscripts outside ``order``/``metadata`` -- is refused with the column it starts at. Evaluation
is our own tree walk over the checked tree: ``eval``/``exec``/``compile`` to code are never used,
and the only things a condition can reach are the names of :data:`~disputedesk.rules.context.SCHEMA`.

Attribute syntax (``customer.lifetime_value``) is *not* Python attribute access: the dotted path is
read off the syntax tree and looked up as one name in the context dict.
"""

from __future__ import annotations

import ast
import difflib
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from decimal import Decimal
from typing import Any, Callable, Mapping

from disputedesk.errors import MoneyError
from disputedesk.rules.context import (
    FIXED_GROUPS, GROUP_MEMBER_TYPE, OPEN_GROUPS, SCHEMA_BY_NAME,
)
from disputedesk.rules.errors import EvaluationError, ExpressionError
from disputedesk.rules.values import (
    ANY, BOOL, DURATION, GROUP, LIST, MONEY, NONE, NUMBER, STR, Conversion, Duration,
    TypeProblem, arith, arith_type, check_magnitude, compare, compare_type, display,
    parse_money_literal, to_number, type_of,
)

MAX_LENGTH = 2000      # characters in one condition
MAX_NODES = 300        # syntax-tree nodes in one condition
MAX_DEPTH = 30         # nesting depth
MAX_STRING = 500       # characters in one text literal
MAX_LIST = 200         # items in one list literal

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

# What people try, and why it is refused (the message names the construct).
_REFUSED = {
    ast.Lambda: "lambda", ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings", ast.FormattedValue: "f-strings", ast.NamedExpr: "`:=`",
    ast.IfExp: "`x if c else y` (use and/or)", ast.Starred: "`*` unpacking", ast.Dict: "dict literals",
    ast.Set: "set literals", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[tuple[str, ...], ...]  # allowed static types per argument
    result: str                          # static result type ("same" = type of the first argument)
    run: Callable[..., Any]
    doc: str


def _money(text: str) -> Any:
    return parse_money_literal(text)


def _span(unit: int) -> Callable[[Any], Duration]:
    def run(n: Any) -> Duration:
        return check_magnitude(Duration(int((Decimal(n) * unit).to_integral_value())))
    return run


def _len(value: Any) -> int:
    return len(value)


def _any_of(left: tuple, right: tuple) -> bool:
    return any(item in right for item in left)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _coalesce(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def _starts_with(value: Any, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix)


FUNCTIONS: Mapping[str, Function] = {f.name: f for f in (
    Function("money", ((STR,),), MONEY, _money, 'an amount: money("15 USD"), money("1500 JPY")'),
    Function("minutes", ((NUMBER,),), DURATION, _span(60), "a span: minutes(30)"),
    Function("hours", ((NUMBER,),), DURATION, _span(3600), "a span: hours(48)"),
    Function("days", ((NUMBER,),), DURATION, _span(86400), "a span: days(120)"),
    Function("lower", ((STR,),), STR, _lower, "text in lower case"),
    Function("upper", ((STR,),), STR, _upper, "text in upper case"),
    Function("len", ((STR, LIST),), NUMBER, _len, "length of a text or list"),
    Function("any_of", ((LIST,), (LIST,)), BOOL, _any_of,
             'true when the two lists share an item: any_of(tags, ["vip", "b2b"])'),
    Function("starts_with", ((STR,), (STR,)), BOOL, _starts_with, 'starts_with(network_reason_code, "10.")'),
    Function("coalesce", ((ANY,), (ANY,)), "same", _coalesce,
             "the first value, or the second when the first is missing: coalesce(risk_score, 0)"),
)}

_KEYWORD_CONSTANTS = {"true": True, "false": False, "null": None, "none": None}


@dataclass(frozen=True)
class Expression:
    """A checked condition: its text, its tree, the names it references and its static type."""

    text: str
    tree: ast.expr
    paths: tuple[tuple[str, ...], ...]   # every context name referenced, in order of appearance
    type: str

    @property
    def names(self) -> tuple[str, ...]:
        """The referenced names, dotted (``customer.lifetime_value``, ``metadata.order_id``)."""
        return tuple(".".join(p) for p in self.paths)

    def __str__(self) -> str:
        return self.text


class _Positions:
    """Maps ast positions (UTF-8 byte offsets in the flattened text) back to line/column."""

    def __init__(self, text: str, flat: str, lead: int) -> None:
        self.text, self.flat, self.lead = text, flat, lead

    def where(self, node: Any) -> tuple[int, int]:
        if node is None or not hasattr(node, "col_offset"):
            return 1, 1
        raw = self.flat[self.lead:].encode("utf-8")[: node.col_offset]
        offset = self.lead + len(raw.decode("utf-8", errors="ignore"))
        before = self.text[:offset]
        line = before.count("\n") + 1
        return line, offset - (before.rfind("\n") + 1) + 1

    def error(self, cls: type[ExpressionError], message: str, node: Any,
              hint: str | None = None) -> ExpressionError:
        line, column = self.where(node)
        return cls(message, expression=self.text, column=column, line=line, hint=hint)


def _flatten(text: str) -> tuple[str, int]:
    # Newlines become spaces so that a condition may span lines (TOML multi-line strings) and the
    # parser sees one logical line; character offsets stay the same.
    flat = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return flat, len(flat) - len(flat.lstrip(" "))


def parse_expression(text: str, *, want: str | None = BOOL) -> Expression:
    """Parse and check a condition; raises :class:`ExpressionError` naming the column."""
    if not isinstance(text, str):
        raise ExpressionError("a condition must be text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the condition is {len(text)} characters long; the limit is {MAX_LENGTH}",
                              expression=text[:80], hint="split it into several rules")
    if "\x00" in text:
        raise ExpressionError("the condition contains a NUL character")
    if not text.strip():
        raise ExpressionError("the condition is empty", hint='leave it out, or write "true"')
    flat, lead = _flatten(text)
    positions = _Positions(text, flat, lead)
    try:
        # Python's warnings about the text (e.g. "invalid escape sequence") are about the
        # merchant's rule, not the desk: keep them out of the process's warnings.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            tree = ast.parse(flat[lead:], mode="eval")
    except SyntaxError as exc:
        column = lead + (exc.offset or 1)
        line = text[:column - 1].count("\n") + 1
        column = column - (text[:column - 1].rfind("\n") + 1)
        raise ExpressionError(f"syntax error: {exc.msg}", expression=text, column=column,
                              line=line) from None
    except (MemoryError, RecursionError, ValueError):
        raise ExpressionError("the condition is nested too deeply", expression=text[:80]) from None
    checker = _Checker(positions)
    kind = checker.check(tree.body, 0)
    if want == BOOL and kind not in (BOOL, ANY, NONE):
        raise positions.error(ExpressionError, f"the condition must be true or false, but it is {kind}",
                              tree.body, hint="compare it, e.g. amount < money(\"15 USD\")")
    return Expression(text, tree.body, tuple(dict.fromkeys(checker.names)), kind)


class _Checker:
    """The whitelist walk: refuses anything outside the language and infers static types."""

    def __init__(self, positions: _Positions) -> None:
        self.pos = positions
        self.nodes = 0
        self.names: list[tuple[str, ...]] = []

    def fail(self, message: str, node: Any, hint: str | None = None) -> ExpressionError:
        return self.pos.error(ExpressionError, message, node, hint)

    def check(self, node: ast.expr, depth: int) -> str:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"the condition is too large (more than {MAX_NODES} parts)", node)
        if depth > MAX_DEPTH:
            raise self.fail(f"the condition is nested more than {MAX_DEPTH} levels deep", node)
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            return self.name(node)
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                kind = self.check(value, d)
                if kind not in (BOOL, ANY, NONE):
                    raise self.fail(f"`and`/`or` need true/false on each side, not {kind}", value,
                                    hint="compare the value, e.g. risk_score > 65")
            return BOOL
        if isinstance(node, ast.UnaryOp):
            kind = self.check(node.operand, d)
            if isinstance(node.op, ast.Not):
                if kind not in (BOOL, ANY, NONE):
                    raise self.fail(f"`not` needs true/false, not {kind}", node)
                return BOOL
            if isinstance(node.op, ast.USub):
                if kind not in (NUMBER, MONEY, DURATION, ANY):
                    raise self.fail(f"cannot negate {kind}", node)
                return kind
            raise self.fail(f"the operator {type(node.op).__name__} is not allowed", node)
        if isinstance(node, ast.BinOp):
            op = _ARITH.get(type(node.op))
            if op is None:
                hint = "repeat the multiplication instead" if isinstance(node.op, ast.Pow) else None
                symbol = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.LShift: "<<",
                          ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
                          ast.MatMult: "@"}.get(type(node.op), type(node.op).__name__)
                raise self.fail(f"the operator `{symbol}` is not allowed (only + - * /)", node, hint)
            left, right = self.check(node.left, d), self.check(node.right, d)
            try:
                return arith_type(op, left, right)
            except TypeProblem as exc:
                raise self.fail(str(exc), node) from None
        if isinstance(node, ast.Compare):
            kinds = [self.check(node.left, d)] + [self.check(c, d) for c in node.comparators]
            for i, op_node in enumerate(node.ops):
                op = _CMP.get(type(op_node))
                if op is None:
                    raise self.fail("`is`/`is not` are not allowed; use == and != (e.g. x == none)",
                                    node.comparators[i])
                try:
                    compare_type(op, kinds[i], kinds[i + 1])
                except TypeProblem as exc:
                    raise self.fail(str(exc), node if i == 0 else node.comparators[i - 1]) from None
            return BOOL
        if isinstance(node, (ast.List, ast.Tuple)):
            if len(node.elts) > MAX_LIST:
                raise self.fail(f"lists are limited to {MAX_LIST} items", node)
            for elt in node.elts:
                self.check(elt, d)
            return LIST
        if isinstance(node, ast.Call):
            return self.call(node, d)
        what = _REFUSED.get(type(node), type(node).__name__)
        raise self.fail(f"{what} not allowed in conditions", node)

    def constant(self, node: ast.Constant) -> str:
        value = node.value
        if value is None:
            return NONE
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, int):
            if abs(value) > 10**18:
                raise self.fail("number too large", node)
            return NUMBER
        if isinstance(value, float):
            try:
                to_number(value)
            except TypeProblem as exc:
                raise self.fail(str(exc), node) from None
            return NUMBER
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise self.fail(f"text literals are limited to {MAX_STRING} characters", node)
            return STR
        raise self.fail(f"{type(value).__name__} literals are not allowed", node)

    def name(self, node: ast.expr) -> str:
        path = self.path(node)
        if len(path) == 1 and path[0].lower() in _KEYWORD_CONSTANTS and path[0] not in SCHEMA_BY_NAME:
            value = _KEYWORD_CONSTANTS[path[0].lower()]
            return NONE if value is None else BOOL
        root = path[0]
        if root in OPEN_GROUPS:
            self.names.append(path)
            return GROUP if len(path) == 1 else GROUP_MEMBER_TYPE[root]
        dotted = ".".join(path)
        if dotted in SCHEMA_BY_NAME:
            self.names.append(path)
            return SCHEMA_BY_NAME[dotted].type
        if root in FIXED_GROUPS and len(path) == 1:
            members = sorted(n for n in SCHEMA_BY_NAME if n.startswith(root + "."))
            raise self.fail(f"`{root}` is a group; use one of its names: {', '.join(members)}", node)
        if root in FUNCTIONS:
            raise self.fail(f"`{root}` is a function; call it, e.g. {FUNCTIONS[root].doc.split(': ')[-1]}", node)
        close = difflib.get_close_matches(dotted, list(SCHEMA_BY_NAME), n=1)
        hint = f"did you mean `{close[0]}`?" if close else "see the names in docs/automation.md"
        raise self.fail(f"unknown name `{dotted}`", node, hint=hint)

    def path(self, node: ast.expr) -> tuple[str, ...]:
        """The dotted path of Name/Attribute/Subscript syntax, refusing anything else."""
        parts: list[str] = []
        current = node
        while True:
            if isinstance(current, ast.Attribute):
                if current.attr.startswith("_"):
                    at = SimpleNamespace(col_offset=current.end_col_offset - len(current.attr.encode()))
                    raise self.fail(f"names starting with `_` are not allowed (`{current.attr}`)", at)
                parts.append(current.attr)
                current = current.value
            elif isinstance(current, ast.Subscript):
                key = current.slice
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    raise self.fail('only order["key"] and metadata["key"] may use [ ], with a text key',
                                    current)
                if len(key.value) > MAX_STRING:
                    raise self.fail("key too long", key)
                parts.append(key.value)
                current = current.value
            elif isinstance(current, ast.Name):
                if current.id.startswith("_"):
                    raise self.fail(f"names starting with `_` are not allowed (`{current.id}`)", current)
                parts.append(current.id)
                break
            else:
                raise self.fail("`.` and `[ ]` work only on the desk's names (customer.x, order.x, "
                                "metadata[\"k\"]), not on values", node)
        parts.reverse()
        subscripted = any(isinstance(n, ast.Subscript) for n in ast.walk(node))
        if subscripted and parts[0] not in OPEN_GROUPS:
            raise self.fail('only order["key"] and metadata["key"] may use [ ]', node)
        return tuple(parts)

    def call(self, node: ast.Call, depth: int) -> str:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only the desk's functions can be called (money, hours, days, lower, len, ...)",
                            node)
        fn = FUNCTIONS.get(node.func.id)
        if fn is None:
            raise self.fail(f"unknown function `{node.func.id}`", node.func,
                            hint="functions: " + ", ".join(sorted(FUNCTIONS)))
        if node.keywords:
            raise self.fail(f"{fn.name}() takes no keyword arguments", node)
        if len(node.args) != len(fn.params):
            raise self.fail(f"{fn.name}() takes {len(fn.params)} argument(s), got {len(node.args)}", node)
        kinds = []
        for arg, allowed in zip(node.args, fn.params):
            kind = self.check(arg, depth + 1)
            if ANY not in allowed and kind not in allowed and kind not in (ANY, NONE):
                raise self.fail(f"{fn.name}() needs {' or '.join(allowed)}, not {kind}", arg)
            kinds.append(kind)
        if fn.name == "money":
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                try:
                    parse_money_literal(arg.value)
                except MoneyError as exc:
                    raise self.fail(f"money(): {exc}", arg) from None
        if fn.result == "same":
            return next((k for k in kinds if k not in (NONE,)), ANY)
        return fn.result


# ---- evaluation ---------------------------------------------------------------------------------

def evaluate_expression(expr: Expression, values: Mapping[str, Any],
                        conversion: Conversion | None = None) -> Any:
    """Evaluate a checked condition against context ``values``; raises :class:`EvaluationError`."""
    flat, lead = _flatten(expr.text)
    walker = _Evaluator(values, conversion or Conversion(), _Positions(expr.text, flat, lead))
    return walker.eval(expr.tree)


def lookup(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value of a dotted name; open groups are walked key by key (missing -> None)."""
    root = path[0]
    if root in OPEN_GROUPS:
        current: Any = values.get(root) or {}
        for key in path[1:]:
            if not isinstance(current, Mapping):
                return None
            current = current.get(key)
        return current
    return values.get(".".join(path))


class _Evaluator:
    def __init__(self, values: Mapping[str, Any], conversion: Conversion, pos: _Positions) -> None:
        self.values, self.conversion, self.pos = values, conversion, pos

    def fail(self, message: str, node: ast.AST) -> EvaluationError:
        return self.pos.error(EvaluationError, message, node)  # type: ignore[return-value]

    def source(self, node: ast.AST) -> str:
        return ast.unparse(node)

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return to_number(node.value)
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            path = _plain_path(node)
            if len(path) == 1 and path[0].lower() in _KEYWORD_CONSTANTS and path[0] not in SCHEMA_BY_NAME:
                return _KEYWORD_CONSTANTS[path[0].lower()]
            return lookup(self.values, path)
        if isinstance(node, ast.BoolOp):
            is_and = isinstance(node.op, ast.And)
            for value in node.values:
                result = self.truth(value)
                if is_and and not result:
                    return False
                if not is_and and result:
                    return True
            return is_and
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return not self.truth(node.operand)
            value = self.eval(node.operand)
            if value is None:
                raise self.fail(f"`{self.source(node.operand)}` has no value", node.operand)
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                return -value
            if isinstance(value, Duration):
                return Duration(-value.seconds)
            if type_of(value) == MONEY:
                return type(value)(-value.amount, value.currency)
            raise self.fail(f"cannot negate {type_of(value)}", node)
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left), self.eval(node.right)
            self.need(left, node.left)
            self.need(right, node.right)
            try:
                return arith(_ARITH[type(node.op)], left, right, self.conversion)
            except (TypeProblem, MoneyError) as exc:
                raise self.fail(str(exc), node) from None
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            left_node = node.left
            for op_node, right_node in zip(node.ops, node.comparators):
                right = self.eval(right_node)
                op = _CMP[type(op_node)]
                if op in ("<", "<=", ">", ">="):
                    self.need(left, left_node)
                    self.need(right, right_node)
                elif op in ("in", "not in"):
                    self.need(right, right_node)
                    if isinstance(right, str):
                        self.need(left, left_node)
                try:
                    if not compare(op, left, right, self.conversion):
                        return False
                except TypeProblem as exc:
                    raise self.fail(str(exc), left_node) from None
                left, left_node = right, right_node
            return True
        if isinstance(node, (ast.List, ast.Tuple)):
            return tuple(self.eval(elt) for elt in node.elts)
        if isinstance(node, ast.Call):
            fn = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
            args = [self.eval(arg) for arg in node.args]
            for arg, arg_node, allowed in zip(args, node.args, fn.params):
                if arg is None and fn.name in ("money", "hours", "days", "minutes", "len", "any_of",
                                               "starts_with"):
                    raise self.fail(f"`{self.source(arg_node)}` has no value", arg_node)
                kind = type_of(arg)
                if ANY not in allowed and kind not in allowed and kind != NONE:
                    raise self.fail(f"{fn.name}() needs {' or '.join(allowed)}, not {kind}", arg_node)
            try:
                return fn.run(*args)
            except (MoneyError, TypeProblem) as exc:
                raise self.fail(f"{fn.name}(): {exc}", node) from None
        # The checker refused everything else; this guards a tree that did not come from it.
        raise self.fail(f"{type(node).__name__} not allowed", node)

    def need(self, value: Any, node: ast.AST) -> None:
        if value is None:
            raise self.fail(f"`{self.source(node)}` has no value for this object", node)

    def truth(self, node: ast.expr) -> bool:
        value = self.eval(node)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(f"`{self.source(node)}` is {type_of(value)}, not true/false", node)
        return value


def _plain_path(node: ast.expr) -> tuple[str, ...]:
    parts: list[str] = []
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        else:
            parts.append(node.slice.value)  # type: ignore[attr-defined]
            node = node.value  # type: ignore[attr-defined]
    parts.append(node.id)
    return tuple(reversed(parts))


# ---- templates (notify messages) ----------------------------------------------------------------

def template_names(template: str) -> list[tuple[str, int]]:
    """``{name}`` placeholders of a message with their 1-based columns; ``{{``/``}}`` are braces.

    Only context names may appear (no format specs, no indexing): this is not ``str.format``.
    """
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            i += 2
            continue
        if ch == "{":
            end = template.find("}", i)
            if end == -1:
                raise ExpressionError("unclosed `{` in the message", expression=template, column=i + 1,
                                      hint="write {{ for a literal brace")
            out.append((template[i + 1:end].strip(), i + 1))
            i = end + 1
            continue
        if ch == "}":
            raise ExpressionError("unmatched `}` in the message", expression=template, column=i + 1,
                                  hint="write }} for a literal brace")
        i += 1
    for name, column in out:
        root = name.split(".")[0]
        valid = name in SCHEMA_BY_NAME or (root in OPEN_GROUPS and all(
            part and not part.startswith("_") for part in name.split(".")))
        if not valid or name.startswith("_"):
            close = difflib.get_close_matches(name, list(SCHEMA_BY_NAME), n=1)
            raise ExpressionError(f"unknown name `{{{name}}}` in the message", expression=template,
                                  column=column, hint=f"did you mean {{{close[0]}}}?" if close else None)
    return out


def render_template(template: str, values: Mapping[str, Any]) -> str:
    names = iter(template_names(template))
    pieces: list[str] = []
    i = 0
    while i < len(template):
        if template.startswith("{{", i):
            pieces.append("{")
            i += 2
        elif template.startswith("}}", i):
            pieces.append("}")
            i += 2
        elif template[i] == "{":
            name, _ = next(names)
            pieces.append(display(lookup(values, tuple(name.split(".")))))
            i = template.find("}", i) + 1
        else:
            pieces.append(template[i])
            i += 1
    return "".join(pieces)
