"""Match charges to the merchant's orders and report what matched, how, and what did not.

Rules, in order (the first that finds an order wins):

1. ``metadata``: the order id in ``charge.metadata[<order_metadata_key>]``;
2. ``payment_intent``: the charge's PaymentIntent id;
3. ``email``: the customer's email (billing details, receipt email or expanded customer).

Several candidates (typically several orders for one email) make the match *ambiguous*: the one
closest to the charge is chosen (same amount and currency first, then nearest in time, then
nearest in amount) and the others are named in the report. Orders explicitly tied to another
payment (a different ``payment_intent`` or ``charge``) are never matched by email.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from disputedesk.domain.money import format_money
from disputedesk.errors import ConfigError, MoneyError
from disputedesk.evidence.orders.errors import OrderDataError, OrderSourceError
from disputedesk.evidence.orders.model import Order, OrderKeys, OrderSource, closest

RULES = ("metadata", "payment_intent", "email")
_KEY = {"metadata": "order_id", "payment_intent": "payment_intent", "email": "email"}
_RULE_TEXT = {"metadata": "metadata order id", "payment_intent": "payment intent", "email": "customer email"}


@dataclass(frozen=True)
class ChargeMatch:
    charge_id: str | None
    order: Order | None = None
    rule: str | None = None            # which rule matched: metadata, payment_intent or email
    key: str | None = None             # the value it matched on
    candidates: tuple[str, ...] = ()   # ids of every order the matching rule found
    notes: tuple[str, ...] = ()
    error: str | None = None           # the source failed for this charge

    @property
    def matched(self) -> bool:
        return self.order is not None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    def describe(self) -> str:
        if self.error:
            head = f"{self.charge_id}: lookup failed: {self.error}"
        elif self.order is None:
            head = f"{self.charge_id}: no order"
        else:
            head = f"{self.charge_id}: order {self.order.id} by {_RULE_TEXT[self.rule or 'metadata']} {self.key}"
        return head + "".join(f"; {n}" for n in self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {"charge": self.charge_id, "order": self.order.id if self.order else None,
                "rule": self.rule, "key": self.key, "candidates": list(self.candidates),
                "ambiguous": self.ambiguous, "notes": list(self.notes), "error": self.error}


@dataclass
class MatchReport:
    results: list[ChargeMatch] = field(default_factory=list)

    @property
    def matched(self) -> list[ChargeMatch]:
        return [r for r in self.results if r.matched]

    @property
    def unmatched(self) -> list[ChargeMatch]:
        return [r for r in self.results if not r.matched and not r.error]

    @property
    def ambiguous(self) -> list[ChargeMatch]:
        return [r for r in self.results if r.ambiguous]

    @property
    def errors(self) -> list[ChargeMatch]:
        return [r for r in self.results if r.error]

    def by_charge(self) -> dict[str | None, ChargeMatch]:
        return {r.charge_id: r for r in self.results}

    def shared_orders(self) -> dict[str, list[str | None]]:
        """Orders matched by more than one charge (a hint of a duplicate charge)."""
        seen: dict[str, list[str | None]] = defaultdict(list)
        for r in self.matched:
            seen[r.order.id].append(r.charge_id)  # type: ignore[union-attr]
        return {k: v for k, v in seen.items() if len(v) > 1}

    def counts(self) -> dict[str, int]:
        out = {"charges": len(self.results), "matched": len(self.matched),
               "unmatched": len(self.unmatched), "ambiguous": len(self.ambiguous),
               "errors": len(self.errors)}
        for rule in RULES:
            out[f"by_{rule}"] = sum(1 for r in self.matched if r.rule == rule)
        return out

    def summary(self) -> str:
        c = self.counts()
        head = (f"{c['matched']} of {c['charges']} charges matched to an order "
                f"({c['by_metadata']} by metadata order id, {c['by_payment_intent']} by payment intent, "
                f"{c['by_email']} by email); {c['ambiguous']} ambiguous, {c['unmatched']} unmatched, "
                f"{c['errors']} failed")
        lines = [head]
        lines += [r.describe() for r in self.results if r.ambiguous or not r.matched or r.error]
        for order_id, charges in self.shared_orders().items():
            lines.append(f"order {order_id} matched {len(charges)} charges: {', '.join(map(str, charges))}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "results": [r.to_dict() for r in self.results],
                "shared_orders": self.shared_orders()}


def _candidates(source: OrderSource, keys: OrderKeys) -> list[Order]:
    find = getattr(source, "find", None)
    if callable(find):
        return list(find(keys))
    one = source.lookup(keys)
    return [one] if one is not None else []


def _gap(seconds: float) -> str:
    if seconds == float("inf"):
        return "no date"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def match_charge(charge: Mapping[str, Any], source: OrderSource, *, metadata_key: str = "order_id",
                 rules: Sequence[str] = RULES) -> ChargeMatch:
    """Find the order of one charge by the first rule that finds one."""
    keys = OrderKeys.from_charge(charge, metadata_key)
    charge_id = charge.get("id")
    notes: list[str] = []
    for rule in rules:
        value = getattr(keys, _KEY[rule])
        if not value:
            notes.append(f"no {_RULE_TEXT[rule]}" + (f" (metadata[{metadata_key}])" if rule == "metadata" else ""))
            continue
        try:
            found = _candidates(source, keys.only(rule))
        except (OrderSourceError, OrderDataError) as exc:
            return ChargeMatch(charge_id, notes=tuple(notes), error=str(exc))
        found = _consistent(found, rule, value, keys, notes)
        if not found:
            notes.append(f"no order for {_RULE_TEXT[rule]} {value}")
            continue
        chosen = closest(found, keys)
        if chosen is None:
            continue
        if len(found) > 1:
            others = [o.id for o in found if o is not chosen]
            gap = (abs(chosen.created - keys.created) if chosen.created is not None and keys.created is not None
                   else float("inf"))
            same = chosen.amount == keys.amount and keys.amount is not None
            notes.append(
                f"ambiguous: {len(found)} orders for {_RULE_TEXT[rule]} {value}; chose {chosen.id} "
                f"({'same amount' if same else 'different amount'}, {_gap(gap)} from the charge); "
                f"others: {', '.join(others)}")
        elif rule == "email" and keys.amount is not None and chosen.amount is not None \
                and chosen.amount != keys.amount:
            notes.append(f"amounts differ: order {_money(chosen.amount, chosen.currency)}, "
                         f"charge {_money(keys.amount, keys.currency)}")
        return ChargeMatch(charge_id, chosen, rule, value, tuple(o.id for o in found), tuple(notes))
    return ChargeMatch(charge_id, notes=tuple(notes))


def _money(amount: int, currency: str | None) -> str:
    try:
        return format_money(amount, currency or "")
    except MoneyError:
        return str(amount)


def _consistent(found: list[Order], rule: str, value: str, keys: OrderKeys, notes: list[str]) -> list[Order]:
    """Drop candidates that contradict the charge (the source may have answered loosely)."""
    out = []
    excluded = 0
    for order in found:
        if rule == "metadata" and order.id != value:
            continue
        if rule == "payment_intent" and order.payment_intent and order.payment_intent != value:
            continue
        if rule == "email":
            if order.customer_email and order.customer_email != value:
                continue
            if (order.payment_intent and keys.payment_intent and order.payment_intent != keys.payment_intent) \
                    or (order.charge and keys.charge_id and order.charge != keys.charge_id):
                excluded += 1
                continue
        if order not in out:
            out.append(order)
    if excluded:
        notes.append(f"{excluded} order(s) for {value} belong to another payment and were not considered")
    return out


def match_orders(charges: Iterable[Mapping[str, Any]], source: OrderSource, *,
                 metadata_key: str = "order_id", rules: Sequence[str] = RULES) -> MatchReport:
    """Match every charge to an order; the report says which rule matched and what did not.

    ``metadata_key`` is ``Settings.order_metadata_key``. A failing lookup is recorded against its
    charge and matching goes on; a configuration error (bad query, refused credentials) stops it.
    """
    bad = [r for r in rules if r not in RULES]
    if bad:
        raise ConfigError(f"unknown matching rules: {', '.join(bad)}", hint=f"use {', '.join(RULES)}")
    return MatchReport([match_charge(c, source, metadata_key=metadata_key, rules=rules) for c in charges])
