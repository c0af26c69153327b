"""Named hook points where one resource module lets others react, without importing them.

The charge path calls ``charge_succeeded`` for every charge that succeeded and is captured; the
test card's ``behaviour`` (``"dispute_fraudulent"``, ``"efw"``, ...) tells subscribers what Stripe's
test card would do next. ``before_refund`` subscribers may raise an :class:`~.errors.APIError` to
refuse a refund (the disputes module refuses refunds of charged-back charges this way).

Signatures (all run under the emulator lock, inside the request or timer that caused them):

- ``charge_succeeded(ctx, charge: dict, card: TestCard)``
- ``before_refund(ctx, charge: dict, amount: int | None)``  -- raise to refuse (None: the rest)
- ``refund_created(ctx, refund: dict, charge: dict)``
- ``refund_status_changed(ctx, refund: dict, charge: dict, previous_status: str)``
"""

from __future__ import annotations

from typing import Any, Callable

HOOK_NAMES = ("charge_succeeded", "before_refund", "refund_created", "refund_status_changed")


class Hooks:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callable[..., Any]]] = {n: [] for n in HOOK_NAMES}

    def on(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if name not in self._subscribers:
            raise ValueError(f"unknown hook {name!r}; known hooks: {', '.join(HOOK_NAMES)}")
        if fn not in self._subscribers[name]:
            self._subscribers[name].append(fn)
        return fn

    def call(self, name: str, *args: Any, **kwargs: Any) -> None:
        for fn in self._subscribers[name]:
            fn(*args, **kwargs)
