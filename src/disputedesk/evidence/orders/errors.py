"""Errors of the order sources, placed in the desk's one exception tree (disputedesk.errors).

- :class:`OrderSourceConfigError` (a ``ConfigError``): the source is set up wrong (bad URL, bad
  query, a query that could write, an unknown setting). Fixing the settings fixes it.
- :class:`WriteQueryRefused` (an ``OrderSourceConfigError``): the SQL is not one read-only SELECT.
- :class:`OrderSourceError`: the merchant's database or endpoint failed at lookup time
  (unreachable, timed out, 5xx). Retrying later may work.
- :class:`OrderDataError` (a ``ValidationError``): the source answered, but what it returned cannot
  be read as an order; ``problems`` lists every field that is wrong.
- :class:`OrderImportError` (a ``ValidationError``): an import file with problems, all listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from disputedesk.errors import ConfigError, DisputeDeskError, ValidationError

if TYPE_CHECKING:
    from disputedesk.evidence.orders.fields import FieldProblem


class OrderSourceConfigError(ConfigError):
    code = "order_source_config_error"


class WriteQueryRefused(OrderSourceConfigError):
    code = "order_query_not_read_only"


class OrderSourceError(DisputeDeskError):
    code = "order_source_error"


class OrderDataError(ValidationError):
    code = "order_data_invalid"

    def __init__(self, message: str, problems: Sequence[FieldProblem] = (), **kw) -> None:
        self.problems = tuple(problems)
        if self.problems and "hint" not in kw:
            kw["hint"] = "; ".join(p.describe() for p in self.problems[:5])
        super().__init__(message, **kw)


class OrderImportError(ValidationError):
    code = "order_import_invalid"

    def __init__(self, message: str, problems: Sequence[object] = (), **kw) -> None:
        self.problems = tuple(problems)
        super().__init__(message, **kw)
