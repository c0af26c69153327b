"""The rule model: triggers, actions with their parameters, rules and a rule set.

A rule says *when* (a trigger and a condition), *what* (actions) and *why* (a sentence shown with
every decision). Rules are data: :mod:`disputedesk.rules.loader` builds them from TOML or YAML and
:mod:`disputedesk.rules.engine` evaluates them; nothing here talks to Stripe or the store.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

from disputedesk.rules.context import DISPUTE_TRIGGERS, TRIGGERS
from disputedesk.rules.expressions import Expression, template_names
from disputedesk.rules.values import DEFAULT_FEES, Conversion, Fees

ALL_TRIGGERS = frozenset(TRIGGERS)


@dataclass(frozen=True)
class Param:
    """One action parameter: its type ("bool", "int", "str", "template", "tags"), default, limits."""

    type: str
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class ActionSpec:
    kind: str
    triggers: frozenset[str]
    params: Mapping[str, Param]
    doc: str
    # Does it change the case? Such actions leave a case alone when a person is working it.
    changes_case: bool = True


ACTION_SPECS: Mapping[str, ActionSpec] = {s.kind: s for s in (
    ActionSpec("accept_dispute", frozenset({"dispute.created", "dispute.updated", "deadline.approaching"}),
               {}, "close the dispute (accept the loss); only while its status is needs_response"),
    ActionSpec("build_evidence", frozenset(DISPUTE_TRIGGERS),
               {"stage": Param("bool", default=True,
                               doc="also send it to Stripe as staged evidence (submit=false)")},
               "build the evidence packet from Stripe's data and the order source"),
    ActionSpec("submit_evidence", frozenset(DISPUTE_TRIGGERS),
               {"hours_before_due": Param("int", required=True, minimum=1, maximum=21 * 24,
                                          doc="submit this many hours before evidence_details.due_by"),
                "min_completeness": Param("int", required=True, minimum=0, maximum=100,
                                          doc="submit only when evidence.completeness is at least this")},
               "submit the evidence at a set time before due_by, when complete enough"),
    ActionSpec("refund_charge", frozenset({"early_fraud_warning.created"}),
               {"reason": Param("str", default="fraudulent", choices=("fraudulent",),
                                doc="the refund reason sent to Stripe")},
               "fully refund the warned charge, only when it is refundable, not refunded, not disputed"),
    ActionSpec("notify", ALL_TRIGGERS,
               {"channel": Param("str", required=True, doc="a channel configured in the desk (email, slack, log, ...)"),
                "message": Param("template", required=True, doc="text with {name} placeholders")},
               "send a message", changes_case=False),
    ActionSpec("tag", ALL_TRIGGERS,
               {"tags": Param("tags", required=True, doc="list of tags to add")},
               "add tags to the case", changes_case=False),
    ActionSpec("assign", ALL_TRIGGERS,
               {"user": Param("str", required=True, doc="the desk user to assign the case to")},
               "assign the case to a person"),
)}
ACTION_KINDS = tuple(ACTION_SPECS)


@dataclass(frozen=True)
class Action:
    """An action with its parameters (defaults filled in)."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class Rule:
    name: str
    why: str
    trigger: str
    actions: tuple[Action, ...]
    condition: Expression | None = None      # None: always matches
    hours_before: int | None = None          # deadline.approaching only
    priority: int = 100                      # lower runs first; ties keep file order
    enabled: bool = True
    override_manual: bool = False            # act even on a case a person is working
    line: int | None = None                  # where the rule starts in its file
    order: int = 0                           # position in the file


@dataclass(frozen=True)
class RuleSet:
    """Rules plus the data they compute with: fees per currency and optional conversion rates."""

    rules: tuple[Rule, ...]
    fees: Mapping[str, Fees] = field(default_factory=lambda: dict(DEFAULT_FEES))
    conversion: Conversion = field(default_factory=Conversion)
    source: str = "<rules>"

    def ordered(self) -> list[Rule]:
        return sorted(self.rules, key=lambda r: (r.priority, r.order))

    def for_trigger(self, trigger: str) -> list[Rule]:
        return [r for r in self.ordered() if r.enabled and r.trigger == trigger]

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def reads(self, trigger: str) -> frozenset[str]:
        """Every context name the enabled rules of ``trigger`` can look at: their conditions,
        their messages, and ``evidence.completeness`` for ``submit_evidence``. The facts builder
        skips the costly facts (the customer's history, the order, composing the evidence) that
        no rule reads; computed once per rule set (a rule set is cached by its file's content)."""
        return self._reads.get(trigger, frozenset())

    @functools.cached_property
    def _reads(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for rule in self.rules:
            if not rule.enabled:
                continue
            names = out.setdefault(rule.trigger, set())
            if rule.condition is not None:
                names.update(rule.condition.names)
            if rule.trigger == "deadline.approaching":
                names.add("dispute.time_to_due")
            for action in rule.actions:
                if action.kind == "submit_evidence":
                    names.add("evidence.completeness")
                message = action.params.get("message")
                if isinstance(message, str):
                    names.update(name for name, _ in template_names(message))
        return {trigger: frozenset(names) for trigger, names in out.items()}
