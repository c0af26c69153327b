"""A realistic, deterministic data set: a year of customers, payments, refunds, disputes and EFWs.

``POST /_emulator/seed {"customers": N, "charges": M, "seed": S}`` (and ``disputedesk emulator
--seed S``) calls :func:`run`. Everything is built with the resource modules' own builders, so
objects have exactly the shapes the API returns, through a seeding context that:

- stamps each object with its own moment in the past year (objects are created in time order,
  so lists page through them as Stripe would),
- draws ids from a generator seeded by ``S`` (same seed, same data set, on a fresh emulator),
- emits no events and sends no webhooks: this is history, read it with the list endpoints.

Shape of the data: repeat customers (a few buy often), about 60% of them with purchase IP and
device metadata on their charges (``metadata[ip_address]``, ``metadata[device_fingerprint]``) so
Visa CE 3.0 histories exist; ``metadata[order_id]`` on every charge; currencies mostly usd, then
eur, gbp, jpy and a little kwd; full and partial refunds; disputes of every card reason with
realistic shares (fraud first), outcomes by age (open ones due in the future, under review,
won, lost), inquiries, and early fraud warnings (some later refunded or disputed).
"""

from __future__ import annotations

import heapq
import math
import random
from typing import Any, Callable

from . import evidence_rules
from .context import Ctx
from .ids import IdGenerator
from .state import Obj

DAY = 86_400
DEFAULT_CUSTOMERS = 50
DEFAULT_CHARGES = 500
MAX_CHARGES = 200_000

CURRENCIES = (("usd", 0.70), ("eur", 0.12), ("gbp", 0.10), ("jpy", 0.06), ("kwd", 0.02))
# typical basket in major units, per currency: (median, spread of the log-normal)
BASKETS = {"usd": (45.0, 0.8), "eur": (40.0, 0.8), "gbp": (35.0, 0.8), "jpy": (5000.0, 0.8),
           "kwd": (14.0, 0.7)}
CARD_MIX = (("pm_card_visa", 0.55), ("pm_card_mastercard", 0.27), ("pm_card_amex", 0.12),
            ("pm_card_discover", 0.06))
# card dispute reasons and their shares (fraud first, as on most card businesses)
REASONS = (("fraudulent", 0.42), ("product_not_received", 0.16), ("product_unacceptable", 0.11),
           ("unrecognized", 0.07), ("subscription_canceled", 0.07),
           ("credit_not_processed", 0.07), ("general", 0.06), ("duplicate", 0.03),
           ("noncompliant", 0.01))
WIN_RATE = {"fraudulent": 0.25, "unrecognized": 0.3, "product_not_received": 0.45,
            "product_unacceptable": 0.35, "subscription_canceled": 0.4,
            "credit_not_processed": 0.45, "general": 0.35, "duplicate": 0.5, "noncompliant": 0.2}
DISPUTE_RATE = 0.02
INQUIRY_SHARE = 0.15
REFUND_RATE = 0.06
EFW_RATE = 0.012
FIRST_NAMES = ("ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "edsger", "frances",
               "john", "radia", "tim", "shafi", "donald", "leslie", "niklaus", "katherine",
               "dennis", "sophie", "guido")
LAST_NAMES = ("lovelace", "turing", "hopper", "torvalds", "hamilton", "thompson", "liskov",
              "dijkstra", "allen", "backus", "perlman", "berners", "goldwasser", "knuth",
              "lamport", "wirth", "johnson", "ritchie", "wilson", "rossum")
PRODUCTS = ("Merino wool sweater", "Espresso grinder", "Trail running shoes", "Annual plan",
            "Noise-cancelling headphones", "Leather notebook", "Ceramic pour-over set",
            "Online course: statistics", "Standing desk", "Concert ticket")


class SeedCtx(Ctx):
    """A context that lives at a chosen past moment, draws seeded ids and emits nothing."""

    __slots__ = ("at", "_ids")

    def __init__(self, emulator: Any, account: Any, ids: IdGenerator) -> None:
        super().__init__(emulator, account)
        self.at = 0
        self._ids = ids

    def now(self) -> int:
        return self.at

    def new_id(self, object_type: str) -> str:
        return self._ids.new(object_type)

    def emit(self, event_type: str, obj: Obj, previous_attributes: dict[str, Any] | None = None
             ) -> Obj:
        return {}

    def schedule(self, delay_seconds: float, fn: Callable[..., None], *args: Any) -> None:
        self.emulator.timers.schedule(self.account.id, self.at + delay_seconds, fn, *args)


def _int(params: dict[str, Any], name: str, default: int, maximum: int) -> int:
    from . import errors

    value = params.get(name, default)
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        raise errors.invalid(f"{name} must be a whole number.", param=name) from None
    if n < 0 or n > maximum:
        raise errors.invalid(f"{name} must be between 0 and {maximum}.", param=name)
    return n


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in table)
    for value, weight in table:
        x -= weight
        if x <= 0:
            return value
    return table[-1][0]


def _amount(rng: random.Random, currency: str) -> int:
    from .currencies import THREE_DECIMAL, ZERO_DECIMAL

    median, spread = BASKETS[currency]
    major = median * math.exp(rng.gauss(0, spread))
    if currency in ZERO_DECIMAL:
        return max(100, int(round(major, -1)))
    if currency in THREE_DECIMAL:
        return max(500, int(round(major * 100)) * 10)  # fils, a multiple of 10
    return max(100, int(round(major * 100)))


def run(emulator: Any, params: dict[str, Any], account_id: str | None = None) -> dict[str, Any]:
    """Seed one account; returns counts of what was created. Caller holds the emulator lock."""
    n_customers = _int(params, "customers", DEFAULT_CUSTOMERS, 100_000)
    n_charges = _int(params, "charges", DEFAULT_CHARGES, MAX_CHARGES)
    seed = _int(params, "seed", emulator.seed, 2**63)
    if n_charges and not n_customers:
        n_customers = 1
    account = emulator.account(account_id)
    # seeding into an account that already has charges continues with other (still
    # deterministic) ids, so the second data set cannot collide with the first
    existing = len(account.collection("charge"))
    ids = IdGenerator(seed if not existing else f"{seed}:{existing}", taken=emulator.id_taken)
    rng = random.Random(seed)
    ctx = SeedCtx(emulator, account, ids)
    return Seeder(ctx, rng, emulator.clock.now()).build(n_customers, n_charges)


class Seeder:
    def __init__(self, ctx: SeedCtx, rng: random.Random, now: int) -> None:
        self.ctx = ctx
        self.rng = rng
        self.now = now
        self.start = now - 365 * DAY
        self.counts = {"customers": 0, "payment_intents": 0, "charges": 0, "refunds": 0,
                       "disputes": 0, "inquiries": 0, "early_fraud_warnings": 0}
        self.by_status: dict[str, int] = {}
        self.by_reason: dict[str, int] = {}

    # ------------------------------------------------------------------ plan
    def _customers(self, n: int) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        for i in range(n):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            with_device = rng.random() < 0.6
            out.append({
                "id": self.ctx.new_id("customer"),
                "name": f"{first.title()} {last.title()}",
                "email": f"{first}.{last}{i}@example.com",
                "card": _pick(rng, CARD_MIX),
                "currency": _pick(rng, CURRENCIES),
                "ip": f"203.0.{rng.randrange(256)}.{rng.randrange(1, 255)}" if with_device else None,
                "device": ids_token(rng, 32) if with_device else None,
                "pm": None,
                "weight": 1.0 / (i + 1) ** 0.8,  # a few customers buy often (Zipf-like)
            })
        self.counts["customers"] = n
        return out

    def build(self, n_customers: int, n_charges: int) -> dict[str, Any]:
        rng = self.rng
        customers = self._customers(n_customers)
        # charge moments: a growing business, denser towards today; oldest first
        span = self.now - 3600 - self.start
        times = sorted(self.start + int(span * math.sqrt(rng.random())) for _ in range(n_charges))
        weights = [c["weight"] for c in customers]
        who = rng.choices(range(n_customers), weights=weights, k=n_charges) if n_charges else []
        # actions: (time, order, kind, payload); charges first at equal times
        actions: list[tuple[int, int, str, Any]] = []
        for i, t in enumerate(times):
            actions.append((t, 0, "charge", (i, customers[who[i]])))
        self._plan_followups(times, actions)
        self.charges: dict[int, Obj] = {}
        # a heap, so actions can plan later ones (a win's reinstatement) in time order
        self.actions = [(t, order, n, kind, payload)
                        for n, (t, order, kind, payload) in enumerate(actions)]
        heapq.heapify(self.actions)
        self._seq = len(self.actions)
        while self.actions:
            t, _, _, kind, payload = heapq.heappop(self.actions)
            self.ctx.at = t
            getattr(self, "_do_" + kind)(payload)
        self.ctx.at = max(self.ctx.at, self.now - 3600)
        for cust in customers:  # those who never bought still signed up
            self._add_customer(cust)
        return {"account": self.ctx.account.id, **self.counts,
                "disputes_by_status": dict(sorted(self.by_status.items())),
                "disputes_by_reason": dict(sorted(self.by_reason.items()))}

    def _plan_followups(self, times: list[int], actions: list[tuple[int, int, str, Any]]) -> None:
        rng = self.rng
        latest = self.now - 600
        recent = [i for i, t in enumerate(times) if t > self.now - 40 * DAY]
        n = len(times)
        disputed: set[int] = set()
        # some open disputes always exist: recent charges disputed within the last week
        n_open = min(len(recent), max(2, round(n * DISPUTE_RATE * 0.06))) if n >= 20 else 0
        for i in rng.sample(recent, n_open) if n_open else []:
            at = rng.randint(max(times[i] + 3600, self.now - 7 * DAY), latest)
            if at > times[i]:
                disputed.add(i)
                actions.append((at, 2, "dispute", i))
        for i, t in enumerate(times):
            r = rng.random()
            if i in disputed:
                continue
            if r < DISPUTE_RATE:
                at = min(t + rng.randint(3, 90) * DAY + rng.randrange(DAY), latest)
                if at > t:
                    disputed.add(i)
                    actions.append((at, 2, "dispute", i))
            elif r < DISPUTE_RATE + REFUND_RATE:
                at = min(t + rng.randint(0, 20) * DAY + rng.randrange(DAY), latest)
                if at > t:
                    actions.append((at, 1, "refund", i))
            if rng.random() < EFW_RATE:
                at = min(t + rng.randint(1, 10) * DAY, latest)
                if at > t:
                    actions.append((at, 3, "efw", i))
                    # most warned charges are later refunded or disputed, as the advice goes
                    if i not in disputed and rng.random() < 0.5:
                        later = min(at + rng.randint(0, 3) * DAY + 3600, latest)
                        if later > at:
                            actions.append((later, 4, "refund", i))

    # ------------------------------------------------------------------ actions
    def _do_charge(self, payload: tuple[int, dict[str, Any]]) -> None:
        from .resources import payment_intents

        i, cust = payload
        ctx, rng = self.ctx, self.rng
        self._add_customer(cust)
        currency = cust["currency"] if rng.random() < 0.9 else _pick(rng, CURRENCIES)
        metadata = {"order_id": f"ord_{100000 + i}"}
        if cust["ip"]:
            metadata["ip_address"] = cust["ip"]
            metadata["device_fingerprint"] = cust["device"]
        pi = payment_intents.create_and_confirm(
            ctx, amount=_amount(rng, currency), currency=currency, customer=cust["id"],
            description=rng.choice(PRODUCTS), metadata=metadata, receipt_email=cust["email"],
            payment_method=cust["pm"] or cust["card"])
        charge = ctx.coll("charge").get(pi["latest_charge"])
        if charge is None:
            return
        cust["pm"] = pi["payment_method"]
        charge["billing_details"]["email"] = cust["email"]
        charge["billing_details"]["name"] = cust["name"]
        self.charges[i] = charge
        self.counts["payment_intents"] += 1
        self.counts["charges"] += 1

    def _add_customer(self, cust: dict[str, Any]) -> None:
        """The Customer object the charges name, made at its first purchase (no RNG draw, so
        the rest of the data set is the same with or without customers)."""
        from .resources import customers

        if cust["id"] not in self.ctx.coll("customer"):
            customers.add_seeded(self.ctx, cust["id"], created=self.ctx.at, email=cust["email"],
                                 name=cust["name"])

    def _do_refund(self, i: int) -> None:
        from .resources import refunds

        charge = self.charges.get(i)
        if charge is None or charge["refunded"] or charge["disputed"]:
            return
        remaining = charge["amount"] - charge["amount_refunded"]
        full = self.rng.random() < 0.7
        amount = remaining if full else max(1, remaining // self.rng.choice((2, 3, 4, 5)))
        if charge["currency"] in ("kwd", "bhd", "jod", "omr", "tnd"):
            amount -= amount % 10
        if amount <= 0:
            return
        reason = self.rng.choice(("requested_by_customer", "requested_by_customer", "duplicate",
                                  "fraudulent"))
        refunds.create_refund(self.ctx, charge, amount=amount, reason=reason,
                              metadata={"order_id": charge["metadata"]["order_id"]})
        self.counts["refunds"] += 1

    def _do_efw(self, i: int) -> None:
        from .resources import early_fraud_warnings as efws

        charge = self.charges.get(i)
        if charge is None:
            return
        fraud_type = _pick(self.rng, (("made_with_stolen_card", 0.35), ("unauthorized_use_of_card",
                                      0.3), ("made_with_lost_card", 0.1), ("card_never_received",
                                      0.05), ("misc", 0.1), ("made_with_counterfeit_card", 0.05),
                                      ("fraudulent_card_application", 0.05)))
        efw = efws.new_warning(self.ctx, charge, fraud_type=fraud_type,
                               actionable=efws.is_actionable(self.ctx, charge))
        self.ctx.coll("radar.early_fraud_warning").add(efw)
        self.counts["early_fraud_warnings"] += 1

    def _do_dispute(self, i: int) -> None:
        from .resources import disputes, early_fraud_warnings as efws

        charge = self.charges.get(i)
        if charge is None or charge["refunded"]:
            return
        ctx, rng = self.ctx, self.rng
        brand = charge["payment_method_details"]["card"]["brand"]
        inquiry = rng.random() < (0.5 if brand in ("amex", "discover") else INQUIRY_SHARE / 3)
        # every reason shows up once before the shares take over, so even a small data set
        # has disputes of every reason (noncompliant only on Visa, as the networks define it)
        unused = [r for r, _ in REASONS if r not in self.by_reason
                  and (r != "noncompliant" or brand == "visa")]
        reason = unused[0] if unused else _pick(rng, REASONS)
        if brand != "visa" and reason == "noncompliant":
            reason = "general"
        ce3 = (reason == "fraudulent" and brand == "visa" and not inquiry
               and self._has_ce3_history(charge))
        dispute = disputes.new_dispute(ctx, charge, reason=reason,
                                       case_type="inquiry" if inquiry else "chargeback", ce3=ce3)
        ctx.coll("dispute").add(dispute)
        charge["disputed"] = True
        if not inquiry:
            dispute["balance_transactions"].append(
                disputes.balance_transaction(ctx, dispute, reinstate=False))
        self._age(dispute, charge)
        efws.refresh_for_charge(ctx, charge)
        self.counts["inquiries" if inquiry else "disputes"] += 1
        self.by_status[dispute["status"]] = self.by_status.get(dispute["status"], 0) + 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def _has_ce3_history(self, charge: Obj) -> bool:
        """Two earlier undisputed charges of the customer 120-365 days before, with an IP."""
        if not charge["metadata"].get("ip_address"):
            return False
        coll = self.ctx.coll("charge")
        count = 0
        for cid in coll.by("customer", charge["customer"]):
            other = coll.objects[cid]
            age = charge["created"] - other["created"]
            if 120 * DAY <= age <= 365 * DAY and not other["disputed"]:
                count += 1
        return count >= 2

    def _age(self, dispute: Obj, charge: Obj) -> None:
        """Move a new dispute to where a dispute of its age would be today."""
        from .resources import disputes

        ctx, rng = self.ctx, self.rng
        age = self.now - dispute["created"]
        details = dispute["evidence_details"]
        inquiry = dispute["status"] == "warning_needs_response"
        if details["due_by"] > self.now:  # still open: answer pending, due in the future
            if rng.random() < 0.3:
                dispute["evidence"] = self._evidence(dispute, charge)
                details["has_evidence"] = True
            if dispute["status"] == "needs_response":
                due = details["due_by"]
                ctx.emulator.timers.schedule(ctx.account.id, due + 1, disputes._deadline,
                                             dispute["id"], due)
            return
        answered = rng.random() < 0.8
        if not answered:  # missed the deadline
            dispute["status"] = "warning_closed" if inquiry else "lost"
            return
        dispute["evidence"] = self._evidence(dispute, charge)
        details.update(has_evidence=True, submission_count=1, submission_method="manual")
        ce3 = details["enhanced_eligibility"].get("visa_compelling_evidence_3")
        if ce3 is not None:
            details["enhanced_eligibility"]["visa_compelling_evidence_3"] = {
                "required_actions": [], "status": rng.choice(("qualified", "not_qualified"))}
        decided = age > rng.randint(45, 75) * DAY
        if inquiry:
            dispute["status"] = "warning_closed" if decided else "warning_under_review"
            return
        if not decided:
            dispute["status"] = "under_review"
            return
        won = rng.random() < WIN_RATE.get(dispute["reason"], 0.35)
        dispute["status"] = "won" if won else "lost"
        if won:
            at = min(self.now - 60, dispute["created"] + rng.randint(45, 75) * DAY)
            self._seq += 1
            heapq.heappush(self.actions, (at, 5, self._seq, "reinstate", dispute["id"]))

    def _do_reinstate(self, dispute_id: str) -> None:
        from .resources import disputes

        dispute = self.ctx.coll("dispute").objects[dispute_id]
        dispute["balance_transactions"].append(
            disputes.balance_transaction(self.ctx, dispute, reinstate=True))

    def _evidence(self, dispute: Obj, charge: Obj) -> dict[str, Any]:
        ev = evidence_rules.empty_evidence()
        ev.update({
            "customer_name": charge["billing_details"]["name"],
            "customer_email_address": charge["billing_details"]["email"],
            "product_description": charge["description"],
            "uncategorized_text": f"Order {charge['metadata']['order_id']} was fulfilled as "
                                  "described; see the attached records.",
        })
        if charge["metadata"].get("ip_address"):
            ev["customer_purchase_ip"] = charge["metadata"]["ip_address"]
        if dispute["reason"] == "product_not_received":
            ev["shipping_carrier"] = self.rng.choice(("UPS", "USPS", "DHL", "FedEx"))
            ev["shipping_tracking_number"] = ids_token(self.rng, 18).upper()
        return ev


def ids_token(rng: random.Random, length: int) -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(rng.choice(alphabet) for _ in range(length))

