"""Which rules are in force: ``settings.rules_file`` when set, the default rule set otherwise.

Parsed on first use and cached by the SHA-256 of the file's content: each evaluation reads the
file (a few kilobytes) and parses it again only when its content changed, so an edit takes effect
at the next evaluation without a restart, even one that keeps the size and the mtime. The cached
rule set keeps its compiled conditions and what each trigger's rules read (``RuleSet.reads``). A file with errors is never half-used: the
evaluation fails with every problem listed (and the job is retried), `disputedesk rules check`
names the lines.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from disputedesk.rules import RuleSet, load_default_rules, load_rules, parse_rules

_lock = threading.Lock()
_cache: dict[tuple, RuleSet] = {}


def rules_path(settings) -> Path | None:
    value = getattr(settings, "rules_file", None)
    return Path(value) if value else None


def active_rules(settings) -> RuleSet:
    """The rule set in force (raises ``RulesFileError`` listing every problem of a bad file)."""
    path = rules_path(settings)
    text = None
    if path is None:
        key: tuple = ("<default>",)
    else:
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return load_rules(path)  # raises RulesFileError naming the file and the problem
        key = (str(path), hashlib.sha256(text.encode("utf-8")).hexdigest())
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    loaded = parse_rules(text, filename=str(path)) if path else load_default_rules()
    with _lock:
        _cache.clear()  # one file at a time in a process: keep only the newest
        _cache[key] = loaded
    return loaded


def load(path: str | Path | None, settings) -> RuleSet:
    """``path`` when given (``rules dry-run --file``), else the active rules."""
    return load_rules(path) if path else active_rules(settings)


def describe(rules: RuleSet) -> list[dict]:
    """The rules as plain data, in priority order (for `rules show` and GET /api/v1/rules)."""
    out = []
    for rule in rules.ordered():
        out.append({
            "name": rule.name, "why": rule.why, "trigger": rule.trigger,
            "hours_before": rule.hours_before, "priority": rule.priority, "enabled": rule.enabled,
            "override_manual": rule.override_manual,
            "condition": rule.condition.text if rule.condition else None,
            "actions": [{"kind": a.kind, **{k: (list(v) if isinstance(v, tuple) else v)
                                            for k, v in a.params.items()}} for a in rule.actions],
            "line": rule.line,
        })
    return out
