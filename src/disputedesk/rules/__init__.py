"""Automation rules: a readable rules file, a safe condition language, explainable decisions.

Pure: nothing here talks to Stripe, the store or the clock. The services load a rule set, build
:class:`Facts` from the mirror and carry out the :class:`Decision` actions (once, by their key).
See docs/automation.md.
"""

from disputedesk.rules.backtest import DisputeCase, Report, RuleReport, WarningCase, backtest
from disputedesk.rules.context import SCHEMA, TRIGGERS, CustomerFacts, Facts, build_context
from disputedesk.rules.engine import (
    ALREADY_DONE, RUN, SCHEDULED, SKIPPED, Decision, PlannedAction, deadline_times, evaluate,
    trigger_for_event,
)
from disputedesk.rules.errors import EvaluationError, ExpressionError, Problem, RulesFileError
from disputedesk.rules.expressions import FUNCTIONS, Expression, evaluate_expression, parse_expression
from disputedesk.rules.loader import load_default_rules, load_rules, parse_rules
from disputedesk.rules.model import ACTION_SPECS, Action, Rule, RuleSet
from disputedesk.rules.values import Conversion, Duration, Fees, parse_duration

__all__ = [
    "ACTION_SPECS", "ALREADY_DONE", "Action", "Conversion", "CustomerFacts", "Decision", "DisputeCase",
    "Duration", "EvaluationError", "Expression", "ExpressionError", "FUNCTIONS", "Facts", "Fees",
    "PlannedAction", "Problem", "RUN", "Report", "Rule", "RuleReport", "RuleSet", "RulesFileError",
    "SCHEDULED", "SCHEMA", "SKIPPED", "TRIGGERS", "WarningCase", "backtest", "build_context",
    "deadline_times", "evaluate", "evaluate_expression", "load_default_rules", "load_rules",
    "parse_duration", "parse_expression", "parse_rules", "trigger_for_event",
]
