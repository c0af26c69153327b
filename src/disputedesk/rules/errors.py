"""Errors of the rules engine, as subclasses of the desk's tree (``ValidationError``).

A rules file is input from a person, so every problem names the file, the line, the rule and, for a
condition, the column; ``rules check`` prints them all at once instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from disputedesk.errors import ValidationError


class ExpressionError(ValidationError):
    """A condition or template that cannot be read or checked; points at a column.

    ``line`` and ``column`` are 1-based positions inside the expression text.
    """

    code = "invalid_expression"

    def __init__(self, message: str, *, expression: str = "", column: int | None = None,
                 line: int = 1, hint: str | None = None) -> None:
        where = f" at column {column}" if column is not None else ""
        if column is not None and line > 1:
            where = f" at line {line}, column {column} of the expression"
        super().__init__(f"{message}{where}", param="condition", hint=hint)
        self.reason = message
        self.expression = expression
        self.column = column
        self.line = line

    def pointer(self) -> str:
        """The offending expression line with a caret under the column (for terminals)."""
        if self.column is None or not self.expression:
            return ""
        lines = self.expression.splitlines() or [""]
        text = lines[min(self.line, len(lines)) - 1]
        return f"    {text}\n    {' ' * (self.column - 1)}^"


class EvaluationError(ExpressionError):
    """A condition failed while being evaluated (missing value, currency mismatch, ...).

    The engine records it in the decision (the rule does not match) rather than raising.
    """

    code = "evaluation_failed"


@dataclass(frozen=True)
class Problem:
    """One problem in a rules file."""

    file: str
    line: int | None
    rule: str | None
    message: str
    pointer: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" rule '{self.rule}':" if self.rule else ""
        text = f"{where}:{who} {self.message}"
        return f"{text}\n{self.pointer}" if self.pointer else text


class RulesFileError(ValidationError):
    """A rules file with one or more problems; ``problems`` lists them all, in file order."""

    code = "invalid_rules_file"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0] if self.problems else None
        count = len(self.problems)
        head = str(first) if first else "invalid rules file"
        more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
        super().__init__(head + more, param="rules")
        self.file = first.file if first else None
        self.line = first.line if first else None
        self.rule = first.rule if first else None

    def report(self) -> str:
        """Every problem, one per paragraph."""
        return "\n".join(str(p) for p in self.problems)
