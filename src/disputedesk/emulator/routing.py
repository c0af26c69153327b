"""The route table entry every resource module declares.

``params`` lists the top-level parameters the endpoint accepts (``expand`` is always accepted);
anything else is answered with Stripe's 400 ``parameter_unknown`` before the handler runs.
``None`` means the handler validates parameters itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .state import Obj

Handler = Callable[[Any], Obj]


@dataclass(frozen=True)
class Route:
    method: str
    path: str                       # Starlette syntax: "/v1/refunds/{refund}"
    handler: Handler
    params: tuple[str, ...] | None = ()
    status: int = 200

    @property
    def idempotent(self) -> bool:
        """Whether ``Idempotency-Key`` applies (Stripe: every POST)."""
        return self.method == "POST"
