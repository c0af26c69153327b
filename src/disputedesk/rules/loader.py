"""Reading rules files (TOML, or YAML) into a :class:`~disputedesk.rules.model.RuleSet`.

Every problem is collected (not only the first) and names the file, the line and the rule. TOML
syntax errors carry tomllib's line; for the meaning of a file we locate keys by scanning the text
for table headers (``[[rules]]``, ``[[rules.actions]]``) and ``key =`` lines; YAML gives each node
its line through ``yaml.compose``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from disputedesk.domain.money import to_minor
from disputedesk.errors import MoneyError
from disputedesk.rules.context import TRIGGERS
from disputedesk.rules.errors import ExpressionError, Problem, RulesFileError
from disputedesk.rules.expressions import parse_expression, template_names
from disputedesk.rules.model import ACTION_SPECS, Action, Rule, RuleSet
from disputedesk.rules.values import DEFAULT_FEES, Conversion, Fees

Path_ = tuple  # a key path inside the document, e.g. ("rules", 0, "actions", 1, "kind")

TOP_KEYS = ("version", "rules", "rule", "fees", "conversion")
RULE_KEYS = ("name", "why", "description", "trigger", "hours_before", "condition", "actions",
             "priority", "enabled", "override_manual")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:./-]{0,39}$")
CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
MAX_RULES = 500


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file; raises :class:`RulesFileError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesFileError([Problem(str(path), None, None, f"cannot read the file: {exc}")]) from None
    return parse_rules(text, filename=str(path))


def load_default_rules() -> RuleSet:
    """The rule set shipped with the desk (``default_rules.toml``)."""
    text = resources.files("disputedesk.rules").joinpath("default_rules.toml").read_text("utf-8")
    return parse_rules(text, filename="default_rules.toml", fmt="toml")


def parse_rules(text: str, filename: str = "<rules>", fmt: str | None = None) -> RuleSet:
    """Parse rules from ``text``; the format comes from ``fmt`` or the file name (TOML by default)."""
    fmt = fmt or ("yaml" if filename.lower().endswith((".yaml", ".yml")) else "toml")
    if fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            line = int(match[1]) if match else None
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            col = f", column {match[2]}" if match else ""
            raise RulesFileError([Problem(filename, line, None, f"TOML syntax error{col}: {message}")]) from None
        lines = _toml_lines(text)
    elif fmt == "yaml":
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise RulesFileError([Problem(filename, line, None, f"YAML syntax error: {problem}")]) from None
        lines = {}
        if node is not None:
            _yaml_lines(node, (), lines)
        if data is None:
            data = {}
    else:
        raise RulesFileError([Problem(filename, None, None, f"unknown format '{fmt}' (use toml or yaml)")])
    return _Builder(filename, text, lines).build(data)


# ---- locating keys ------------------------------------------------------------------------------

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_\"'-]+)\s*=")


def _toml_lines(text: str) -> dict[Path_, int]:
    """Line numbers of tables and keys, by scanning the text (tomllib keeps no positions)."""
    out: dict[Path_, int] = {}
    table: tuple = ()
    rule = -1
    action = -1
    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_string:
            if raw.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER_RE.match(raw)
        if header:
            name = header[2].replace(" ", "").replace('"', "").replace("'", "")
            parts = name.split(".")
            if header[1] == "[[" and parts[0] in ("rules", "rule") and len(parts) == 1:
                rule += 1
                action = -1
                table = ("rules", rule)
            elif header[1] == "[[" and parts[0] in ("rules", "rule") and parts[1:] == ["actions"]:
                action += 1
                table = ("rules", rule, "actions", action)
            else:
                table = tuple(parts)
            out.setdefault(table, number)
            continue
        key = _KEY_RE.match(raw)
        rest = raw[key.end():] if key else raw
        if key:
            name = key[1].strip("\"'")
            out.setdefault(table + (name,), number)
            if name == "condition" and rest.strip() in ('"""', "'''"):
                out[table + ("condition@",)] = number + 1  # the expression starts on the next line
        if table[:1] == ("rules",) and len(table) == 2 and not (key and key[1] == "kind"):
            # inline actions (actions = [{ kind = ... }, ...]): each `kind =` is the next action
            for _ in re.findall(r"\bkind\s*=", rest):
                action += 1
                out.setdefault(table + ("actions", action), number)
        for quote in ('"""', "'''"):
            if rest.count(quote) % 2 == 1:
                in_string = quote
    return out


def _yaml_lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            if path == () and key == "rule":
                key = "rules"
            child = path + (key,)
            out.setdefault(child, key_node.start_mark.line + 1)
            if isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">"):
                out[path + (f"{key}@",)] = value_node.start_mark.line + 2  # block text starts below
            _yaml_lines(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _yaml_lines(item, path + (index,), out)


# ---- building -----------------------------------------------------------------------------------

@dataclass
class _Builder:
    filename: str
    text: str
    lines: dict[Path_, int]

    def __post_init__(self) -> None:
        self.problems: list[Problem] = []

    def line(self, path: Path_) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def problem(self, path: Path_, message: str, rule: str | None = None, pointer: str = "",
                line: int | None = None) -> None:
        self.problems.append(Problem(self.filename, line or self.line(path), rule, message, pointer))

    def build(self, data: Any) -> RuleSet:
        if not isinstance(data, Mapping):
            raise RulesFileError([Problem(self.filename, 1, None, "the file must be a table of keys "
                                          "(version, fees, conversion, rules)")])
        for key in data:
            if key not in TOP_KEYS:
                self.problem((key,), f"unknown key '{key}'" + _suggest(key, TOP_KEYS))
        version = data.get("version", 1)
        if version != 1:
            self.problem(("version",), f"version must be 1, got {version!r}")
        if "rule" in data and "rules" in data:
            self.problem(("rules",), "use either 'rules' or 'rule', not both")
        raw_rules = data.get("rules", data.get("rule", []))
        fees = self.fees(data.get("fees", {}))
        conversion = self.conversion(data.get("conversion"))
        rules: list[Rule] = []
        if not isinstance(raw_rules, list):
            self.problem(("rules",), "rules must be a list ([[rules]] tables in TOML, a '- ' list in YAML)")
            raw_rules = []
        if len(raw_rules) > MAX_RULES:
            self.problem(("rules",), f"at most {MAX_RULES} rules per file")
            raw_rules = raw_rules[:MAX_RULES]
        seen: dict[str, int] = {}
        for index, raw in enumerate(raw_rules):
            rule = self.rule(index, raw)
            if rule is None:
                continue
            if rule.name in seen:
                self.problem(("rules", index, "name"), f"duplicate rule name (first used on line "
                             f"{self.line(('rules', seen[rule.name]))})", rule.name)
                continue
            seen[rule.name] = index
            rules.append(rule)
        if self.problems:
            self.problems.sort(key=lambda p: p.line or 0)
            raise RulesFileError(self.problems)
        return RuleSet(tuple(rules), fees, conversion, self.filename)

    # -- fees and conversion --

    def fees(self, raw: Any) -> dict[str, Fees]:
        fees = dict(DEFAULT_FEES)
        if not isinstance(raw, Mapping):
            self.problem(("fees",), "fees must be a table of currencies: [fees.usd] dispute = \"15.00\"")
            return fees
        for currency, table in raw.items():
            path = ("fees", currency)
            code = str(currency).lower()
            if not re.fullmatch(r"[a-z]{3}", code):
                self.problem(path, f"'{currency}' is not a currency code")
                continue
            if not isinstance(table, Mapping):
                self.problem(path, f"fees.{currency} must be a table with dispute and countered")
                continue
            unknown = set(table) - {"dispute", "countered"}
            for key in sorted(unknown):
                self.problem(path + (key,), f"unknown key '{key}' in fees.{currency} (use dispute, countered)")
            values = {}
            for key in ("dispute", "countered"):
                if key not in table:
                    self.problem(path, f"fees.{currency} needs '{key}' (e.g. {key} = \"15.00 {code.upper()}\")")
                    continue
                values[key] = self.fee_amount(path + (key,), table[key], code)
            if len(values) == 2 and None not in values.values():
                fees[code] = Fees(values["dispute"], values["countered"])
        return fees

    def fee_amount(self, path: Path_, raw: Any, currency: str) -> int | None:
        if not isinstance(raw, str):
            self.problem(path, f"write the fee as text in major units, e.g. \"15.00 {currency.upper()}\"")
            return None
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]{3})?\s*", raw)
        if not match or (match[2] and match[2].lower() != currency):
            self.problem(path, f"cannot read the fee '{raw}' (write \"15.00\" or \"15.00 {currency.upper()}\")")
            return None
        try:
            return to_minor(match[1], currency)
        except MoneyError as exc:
            self.problem(path, str(exc))
            return None

    def conversion(self, raw: Any) -> Conversion:
        if raw is None:
            return Conversion()
        path = ("conversion",)
        if not isinstance(raw, Mapping):
            self.problem(path, "conversion must be a table with base and rates")
            return Conversion()
        for key in set(raw) - {"base", "rates"}:
            self.problem(path + (key,), f"unknown key '{key}' in conversion (use base, rates)")
        base = str(raw.get("base", "")).lower()
        if not re.fullmatch(r"[a-z]{3}", base):
            self.problem(path + ("base",), "conversion.base must be a currency code, e.g. base = \"usd\"")
            return Conversion()
        rates_raw = raw.get("rates", {})
        rates: dict[str, Decimal] = {}
        if not isinstance(rates_raw, Mapping):
            self.problem(path + ("rates",), "conversion.rates must be a table: eur = \"1.08\"")
            return Conversion()
        for currency, value in rates_raw.items():
            code = str(currency).lower()
            try:
                rate = Decimal(str(value))
            except InvalidOperation:
                rate = Decimal(0)
            if not re.fullmatch(r"[a-z]{3}", code) or isinstance(value, bool) or not rate.is_finite() or rate <= 0:
                self.problem(("conversion", "rates", currency),
                             f"conversion rate {currency} = {value!r} must be a positive number "
                             f"(1 {code.upper()} in {base.upper()})")
                continue
            rates[code] = rate
        return Conversion(base, rates)

    # -- one rule --

    def rule(self, index: int, raw: Any) -> Rule | None:
        path = ("rules", index)
        if not isinstance(raw, Mapping):
            self.problem(path, f"rule #{index + 1} must be a table of keys")
            return None
        name = raw.get("name")
        label = name if isinstance(name, str) else f"#{index + 1}"
        before = len(self.problems)
        if not isinstance(name, str) or not NAME_RE.match(name):
            self.problem(path + ("name",), "every rule needs a name of letters, digits, '_', '-' or '.' "
                         "(at most 80 characters), e.g. name = \"refund-small-efw\"", label)
        for key in raw:
            if key not in RULE_KEYS:
                self.problem(path + (key,), f"unknown key '{key}'" + _suggest(key, RULE_KEYS), label)
        why = raw.get("why", raw.get("description"))
        if not isinstance(why, str) or not why.strip():
            self.problem(path, "every rule needs a 'why' (or 'description'): the reason shown with its "
                         "decisions", label)
        trigger = raw.get("trigger")
        if trigger not in TRIGGERS:
            self.problem(path + ("trigger",), f"unknown trigger {trigger!r}" + _suggest(str(trigger), TRIGGERS)
                         + "; triggers: " + ", ".join(TRIGGERS), label)
        hours_before = raw.get("hours_before")
        if trigger == "deadline.approaching":
            if not _is_int(hours_before) or not 1 <= hours_before <= 21 * 24:
                self.problem(path + ("hours_before",) if "hours_before" in raw else path,
                             "deadline.approaching needs hours_before, a whole number of hours "
                             "between 1 and 504", label)
        elif hours_before is not None:
            self.problem(path + ("hours_before",), "hours_before applies only to trigger "
                         "deadline.approaching", label)
        priority = raw.get("priority", 100)
        if not _is_int(priority):
            self.problem(path + ("priority",), "priority must be a whole number (lower runs first)", label)
        for flag in ("enabled", "override_manual"):
            if flag in raw and not isinstance(raw[flag], bool):
                self.problem(path + (flag,), f"{flag} must be true or false", label)
        condition = None
        text = raw.get("condition")
        if text is not None:
            condition = self.condition(path, text, label)
        actions = self.actions(path, raw.get("actions"), trigger, label)
        if len(self.problems) > before:
            return None
        return Rule(name=name, why=why.strip(), trigger=trigger, actions=tuple(actions),
                    condition=condition, hours_before=hours_before if trigger == "deadline.approaching" else None,
                    priority=priority, enabled=raw.get("enabled", True),
                    override_manual=raw.get("override_manual", False),
                    line=self.line(path), order=index)

    def condition(self, path: Path_, text: Any, label: str) -> Any:
        if isinstance(text, bool):
            text = "true" if text else "false"
        if not isinstance(text, str):
            self.problem(path + ("condition",), "condition must be text, e.g. condition = 'amount < money(\"15 USD\")'",
                         label)
            return None
        try:
            return parse_expression(text)
        except ExpressionError as exc:
            start = self.lines.get(path + ("condition@",)) or self.line(path + ("condition",))
            line = start + exc.line - 1 if start else None
            self.problem(path + ("condition",), f"condition: {exc}", label, exc.pointer(), line=line)
            return None

    def actions(self, path: Path_, raw: Any, trigger: Any, label: str) -> list[Action]:
        if not isinstance(raw, list) or not raw:
            self.problem(path + ("actions",) if raw is not None else path,
                         "every rule needs at least one action ([[rules.actions]] kind = ...); kinds: "
                         + ", ".join(ACTION_SPECS), label)
            return []
        out = []
        for index, item in enumerate(raw):
            apath = path + ("actions", index)
            if not isinstance(item, Mapping):
                self.problem(apath, f"action #{index + 1} must be a table with a kind", label)
                continue
            kind = item.get("kind")
            spec = ACTION_SPECS.get(kind) if isinstance(kind, str) else None
            if spec is None:
                self.problem(apath, f"unknown action kind {kind!r}" + _suggest(str(kind), ACTION_SPECS)
                             + "; kinds: " + ", ".join(ACTION_SPECS), label)
                continue
            if trigger in ACTION_SPECS[kind].triggers or trigger not in TRIGGERS:
                pass
            else:
                self.problem(apath, f"{kind} cannot run on {trigger} (it can on: "
                             + ", ".join(t for t in TRIGGERS if t in spec.triggers) + ")", label)
            params: dict[str, Any] = {}
            for key, value in item.items():
                if key == "kind":
                    continue
                if key not in spec.params:
                    allowed = ", ".join(spec.params) or "no parameters"
                    self.problem(apath, f"{kind} has no parameter '{key}' ({allowed})", label)
                    continue
                checked = self.param(apath + (key,), kind, key, spec.params[key], value, label)
                if checked is not None:
                    params[key] = checked
            for key, param in spec.params.items():
                if key not in item:
                    if param.required:
                        self.problem(apath, f"{kind} needs '{key}': {param.doc}", label)
                    else:
                        params[key] = param.default
            out.append(Action(kind, params))
        return out

    def param(self, path: Path_, kind: str, key: str, param: Any, value: Any, label: str) -> Any:
        where = f"{kind}.{key}"
        if param.type == "bool":
            if not isinstance(value, bool):
                self.problem(path, f"{where} must be true or false", label)
                return None
            return value
        if param.type == "int":
            if not _is_int(value) or (param.minimum is not None and value < param.minimum) or (
                    param.maximum is not None and value > param.maximum):
                self.problem(path, f"{where} must be a whole number from {param.minimum} to {param.maximum}",
                             label)
                return None
            return value
        if param.type == "tags":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value or not all(
                    isinstance(t, str) and TAG_RE.match(t) for t in value):
                self.problem(path, f"{where} must be a list of short tags (letters, digits, _ : . / -)", label)
                return None
            return tuple(value)
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"{where} must be non-empty text", label)
            return None
        if param.choices and value not in param.choices:
            self.problem(path, f"{where} must be one of: {', '.join(param.choices)}", label)
            return None
        if kind == "notify" and key == "channel" and not CHANNEL_RE.match(value):
            self.problem(path, f"{where} must be a channel name like email, slack or log", label)
            return None
        if param.type == "template":
            try:
                template_names(value)
            except ExpressionError as exc:
                self.problem(path, f"{where}: {exc}", label)
                return None
        return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
