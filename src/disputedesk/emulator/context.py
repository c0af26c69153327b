"""``Ctx``: what a handler, hook or timer gets -- the emulator, one account, and the request.

Automatic work (timers, hooks fired by timers) gets a ``Ctx`` whose ``request_id`` is ``None``,
so its events carry ``request: {id: null, idempotency_key: null}`` as Stripe's do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from . import errors
from .render import render
from .state import AccountState, Collection, Obj

if TYPE_CHECKING:
    from .emulator import Emulator


class Ctx:
    __slots__ = ("emulator", "account", "params", "path", "request_id", "idempotency_key",
                 "method", "url_path", "api_version", "base_url")

    def __init__(self, emulator: "Emulator", account: AccountState, *,
                 params: dict[str, Any] | None = None, path: dict[str, str] | None = None,
                 request_id: str | None = None, idempotency_key: str | None = None,
                 method: str = "", url_path: str = "", api_version: str | None = None,
                 base_url: str | None = None) -> None:
        self.emulator = emulator
        self.account = account
        self.params = params if params is not None else {}
        self.path = path if path is not None else {}
        self.request_id = request_id
        self.idempotency_key = idempotency_key
        self.method = method
        self.url_path = url_path
        self.api_version = api_version
        # scheme://host[:port] the client reached (from the Host header); None outside requests
        self.base_url = base_url

    # -- time and ids
    def now(self) -> int:
        return self.emulator.clock.now()

    def new_id(self, object_type: str) -> str:
        return self.emulator.ids.new(object_type)

    # -- state
    def coll(self, object_type: str) -> Collection:
        return self.account.collection(object_type)

    def get(self, object_type: str, object_id: str, *, param: str = "id",
            kind: str | None = None) -> Obj:
        """The stored object or Stripe's 404 ``No such <kind>: '<id>'``."""
        obj = self.account.collection(object_type).get(object_id) if isinstance(object_id, str) else None
        if obj is None:
            raise errors.missing(kind or object_type.split(".")[-1].replace("_", " "),
                                 str(object_id), param=param)
        return obj

    def customer(self, customer_id: str | None, param: str = "customer") -> str | None:
        """A ``customer`` param that must name a customer of this account.

        Stripe answers 400 ``resource_missing`` (not 404: the URL was fine) for an id it does
        not know. A customer exists when the ``customer`` collection holds it or, for data
        made before customers were stored as objects, when a charge or intent names it.
        """
        if customer_id is None:
            return None
        if (self.coll("customer").get(customer_id) is None
                and not self.coll("charge").by("customer", customer_id)
                and not self.coll("payment_intent").by("customer", customer_id)):
            raise errors.invalid(f"No such customer: '{customer_id}'", param=param,
                                 code="resource_missing")
        return customer_id

    def find(self, object_id: str) -> Obj | None:
        return self.account.find(object_id)

    # -- side effects
    def emit(self, event_type: str, obj: Obj, previous_attributes: dict[str, Any] | None = None
             ) -> Obj:
        return self.emulator.events.emit(self, event_type, obj, previous_attributes)

    def schedule(self, delay_seconds: float, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(ctx, *args)`` once the emulator clock is ``delay_seconds`` later."""
        self.emulator.timers.schedule(self.account.id, self.emulator.clock.time() + delay_seconds,
                                      fn, *args)

    def automatic(self) -> "Ctx":
        """A context for the same account with no request (for work Stripe does on its own)."""
        return Ctx(self.emulator, self.account)

    # -- responses
    def render(self, obj: Obj, expand: list[str] | None = None) -> Obj:
        paths = expand if expand is not None else _expand_param(self.params)
        return render(self.account, obj, paths) if paths else obj

    def list_response(self, objects: list[Obj], has_more: bool, url: str) -> Obj:
        paths = [p[5:] for p in _expand_param(self.params) if p.startswith("data.")]
        data = [render(self.account, o, paths) for o in objects] if paths else objects
        return {"object": "list", "data": data, "has_more": has_more, "url": url}


def _expand_param(params: dict[str, Any]) -> list[str]:
    value = params.get("expand")
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    return []
