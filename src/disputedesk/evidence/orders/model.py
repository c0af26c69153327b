"""The common model: an :class:`Order`, the :class:`OrderKeys` a charge offers, and the
:class:`OrderSource` protocol every source implements.

An ``Order`` *is* the composer's order dict (it is a read-only ``Mapping``), normalised: emails
lower-cased, amounts in integer minor units, dates in UTC epoch seconds. Pass it straight to
``compose_evidence(order=...)``; ``to_dict()`` gives a plain JSON-ready copy for storage.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from disputedesk.evidence.orders.errors import OrderDataError
from disputedesk.evidence.orders.fields import AmountUnit, normalize_record


class Order(Mapping[str, Any]):
    """One merchant order in the composer's format; built only through normalisation."""

    __slots__ = ("_data",)

    def __init__(self, record: Mapping[str, Any], *, mapping: Mapping[str, str] | None = None,
                 amount_unit: AmountUnit = "auto", default_currency: str | None = None) -> None:
        result = normalize_record(record, mapping=mapping, amount_unit=amount_unit,
                                  default_currency=default_currency)
        if result.data is None:
            raise OrderDataError("the record cannot be read as an order", result.problems)
        self._data = result.data

    @classmethod
    def _from_normalized(cls, data: dict[str, Any]) -> Order:
        order = cls.__new__(cls)
        order._data = data
        return order

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        return copy.deepcopy(value) if isinstance(value, (dict, list)) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Order({self._data!r})"

    def __hash__(self) -> int:
        return hash(json.dumps(self._data, sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    @property
    def id(self) -> str:
        return self._data["id"]

    @property
    def customer_email(self) -> str | None:
        return self._data.get("customer_email")

    @property
    def payment_intent(self) -> str | None:
        return self._data.get("payment_intent")

    @property
    def charge(self) -> str | None:
        return self._data.get("charge")

    @property
    def amount(self) -> int | None:
        return self._data.get("amount")

    @property
    def currency(self) -> str | None:
        return self._data.get("currency")

    @property
    def created(self) -> int | None:
        return self._data.get("created")


@dataclass(frozen=True)
class OrderKeys:
    """What a charge offers to find its order, plus hints to choose among several candidates."""

    order_id: str | None = None
    payment_intent: str | None = None
    email: str | None = None
    charge_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    created: int | None = None

    def __post_init__(self) -> None:
        if self.email is not None:
            object.__setattr__(self, "email", self.email.strip().lower() or None)
        for name in ("order_id", "payment_intent"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, str(value).strip() or None)

    @classmethod
    def from_charge(cls, charge: Mapping[str, Any], metadata_key: str = "order_id") -> OrderKeys:
        """Keys of a Stripe charge: ``metadata[metadata_key]`` (Settings.order_metadata_key),
        ``payment_intent`` (id or expanded object), and the email from ``billing_details``,
        ``receipt_email`` or an expanded ``customer``."""
        meta = charge.get("metadata") or {}
        pi = charge.get("payment_intent")
        if isinstance(pi, Mapping):
            pi = pi.get("id")
        customer = charge.get("customer")
        email = ((charge.get("billing_details") or {}).get("email") or charge.get("receipt_email")
                 or (customer.get("email") if isinstance(customer, Mapping) else None))
        order_id = meta.get(metadata_key)
        return cls(order_id=str(order_id) if order_id not in (None, "") else None,
                   payment_intent=pi or None, email=email or None, charge_id=charge.get("id"),
                   amount=charge.get("amount"), currency=charge.get("currency"),
                   created=charge.get("created"))

    def only(self, rule: str) -> OrderKeys:
        """These keys with only one of order_id / payment_intent / email kept (for one rule)."""
        keep = {"metadata": "order_id", "payment_intent": "payment_intent", "email": "email"}[rule]
        cleared = {k: None for k in ("order_id", "payment_intent", "email") if k != keep}
        return replace(self, **cleared)


@runtime_checkable
class OrderSource(Protocol):
    """Finds the merchant's order for a charge. ``lookup`` returns ``None`` when there is none."""

    def lookup(self, keys: OrderKeys) -> Order | None: ...


class BaseOrderSource:
    """Shared behaviour: sources implement ``find`` (every candidate) and get ``lookup``."""

    kind = "base"

    def find(self, keys: OrderKeys) -> list[Order]:  # pragma: no cover - abstract
        raise NotImplementedError

    def lookup(self, keys: OrderKeys) -> Order | None:
        return closest(self.find(keys), keys)

    def describe(self) -> str:
        return self.kind


def closest(orders: Sequence[Order], keys: OrderKeys) -> Order | None:
    """The candidate closest to the charge: same amount and currency first, then nearest in time,
    then nearest in amount; ties keep the source's order."""
    if not orders:
        return None
    return min(orders, key=lambda o: closeness(o, keys))


def closeness(order: Order, keys: OrderKeys) -> tuple[int, float, float]:
    same_amount = (keys.amount is not None and order.amount == keys.amount
                   and (not keys.currency or not order.currency or order.currency == keys.currency))
    time_gap = (abs(order.created - keys.created) if order.created is not None and keys.created is not None
                else float("inf"))
    amount_gap = (abs(order.amount - keys.amount) if order.amount is not None and keys.amount is not None
                  else float("inf"))
    return (0 if same_amount else 1, time_gap, amount_gap)


class MemoryOrderSource(BaseOrderSource):
    """Orders held in memory, e.g. from :func:`parse_orders_file` or the desk's stored imports."""

    kind = "memory"

    def __init__(self, orders: Sequence[Order]) -> None:
        self._orders = list(orders)
        self._by_id: dict[str, list[Order]] = {}
        self._by_pi: dict[str, list[Order]] = {}
        self._by_email: dict[str, list[Order]] = {}
        for order in self._orders:
            self._by_id.setdefault(order.id, []).append(order)
            if order.payment_intent:
                self._by_pi.setdefault(order.payment_intent, []).append(order)
            if order.customer_email:
                self._by_email.setdefault(order.customer_email, []).append(order)

    def __len__(self) -> int:
        return len(self._orders)

    def find(self, keys: OrderKeys) -> list[Order]:
        found: list[Order] = []
        for index, key in ((self._by_id, keys.order_id), (self._by_pi, keys.payment_intent),
                           (self._by_email, keys.email)):
            for order in index.get(key, []) if key else []:
                if order not in found:
                    found.append(order)
        return found

    def describe(self) -> str:
        return f"{len(self._orders)} imported orders"
