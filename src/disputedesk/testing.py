"""Public test helpers: Stripe-shaped objects and events, Stripe's webhook signing, fakes, servers.

For people who embed or extend the desk (and the desk's own tests)::

    event = make_event("charge.dispute.created", make_dispute(charge="ch_1"), created=now)
    body = event_body(event)
    headers = {"Stripe-Signature": sign_payload(body, "whsec_...", timestamp=now)}

Everything here is built in code; nothing reads files outside the package.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

TEST_WEBHOOK_SECRET = "whsec_test_disputedesk_0123456789abcdef"
API_VERSION = "2026-10-28.endive"

_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    """A Stripe-looking id (``du_3Qx...``): prefix, underscore, 24 random characters."""
    return f"{prefix}_{secrets.token_hex(8)}{next(_counter):08d}"


# --- signing ----------------------------------------------------------------------------------

def sign_payload(payload: bytes, secret: str | list[str], *, timestamp: int,
                 test_v0: bool = True) -> str:
    """``Stripe-Signature`` exactly as Stripe sends it.

    ``t=<timestamp>,v1=<hmac>`` with one ``v1`` per active secret (during a rotation Stripe signs
    with every active secret), plus the fake ``v0`` signature test-mode deliveries carry.
    HMAC-SHA256 over ``"<timestamp>.<raw body>"``, keyed with the secret, hex digest.
    """
    secret_list = [secret] if isinstance(secret, str) else list(secret)
    signed = str(timestamp).encode() + b"." + payload
    parts = [f"t={timestamp}"]
    for key in secret_list:
        parts.append("v1=" + hmac.new(key.encode(), signed, hashlib.sha256).hexdigest())
    if test_v0:
        parts.append("v0=" + hashlib.sha256(signed).hexdigest())
    return ",".join(parts)


def event_body(event: dict) -> bytes:
    """The JSON body Stripe posts (pretty-printed, two spaces, like Stripe's own deliveries)."""
    return json.dumps(event, indent=2).encode()


def signed_delivery(event: dict, secret: str | list[str] = TEST_WEBHOOK_SECRET, *,
                    timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """(body, headers) for POSTing ``event`` to ``/webhooks/stripe``."""
    body = event_body(event)
    ts = int(time.time()) if timestamp is None else timestamp
    return body, {"Stripe-Signature": sign_payload(body, secret, timestamp=ts),
                  "Content-Type": "application/json; charset=utf-8",
                  "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}


# --- objects ----------------------------------------------------------------------------------

def make_charge(*, id: str | None = None, amount: int = 2000, currency: str = "usd",
                created: int = 1_760_000_000, customer: str | None = None,
                payment_intent: str | None = None, **fields: Any) -> dict:
    charge = {
        "id": id or new_id("ch"), "object": "charge", "amount": amount,
        "amount_captured": amount, "amount_refunded": 0, "application": None,
        "application_fee": None, "application_fee_amount": None,
        "balance_transaction": new_id("txn"),
        "billing_details": {"address": {"city": None, "country": "US", "line1": None,
                                        "line2": None, "postal_code": "94107", "state": None},
                            "email": "jenny@example.com", "name": "Jenny Rosen", "phone": None,
                            "tax_id": None},
        "calculated_statement_descriptor": "DISPUTEDESK", "captured": True, "created": created,
        "currency": currency, "customer": customer, "description": None, "disputed": False,
        "failure_balance_transaction": None, "failure_code": None, "failure_message": None,
        "fraud_details": {}, "livemode": False, "metadata": {}, "on_behalf_of": None,
        "outcome": {"advice_code": None, "network_advice_code": None,
                    "network_decline_code": None, "network_status": "approved_by_network",
                    "reason": None, "risk_level": "normal", "risk_score": 32,
                    "seller_message": "Payment complete.", "type": "authorized"},
        "paid": True, "payment_intent": payment_intent, "payment_method": new_id("pm"),
        "payment_method_details": {"card": {"brand": "visa", "country": "US", "exp_month": 8,
                                            "exp_year": 2030, "fingerprint": "AOB934RVNwzk6xtn",
                                            "funding": "credit", "last4": "4242",
                                            "network": "visa"}, "type": "card"},
        "receipt_email": None, "receipt_url": None, "refunded": False, "review": None,
        "shipping": None, "status": "succeeded", "transfer_data": None, "transfer_group": None,
    }
    charge.update(fields)
    return charge


def make_payment_intent(*, id: str | None = None, amount: int = 2000, currency: str = "usd",
                        created: int = 1_760_000_000, status: str = "succeeded",
                        latest_charge: str | None = None, customer: str | None = None,
                        **fields: Any) -> dict:
    intent = {
        "id": id or new_id("pi"), "object": "payment_intent", "amount": amount,
        "amount_capturable": 0, "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "automatic_async", "confirmation_method": "automatic",
        "created": created, "currency": currency, "customer": customer, "description": None,
        "latest_charge": latest_charge, "livemode": False, "metadata": {},
        "payment_method_types": ["card"], "status": status, "canceled_at": None,
        "cancellation_reason": None, "last_payment_error": None,
    }
    intent.update(fields)
    return intent


def make_refund(*, id: str | None = None, charge: str | None = None, amount: int = 500,
                currency: str = "usd", created: int = 1_760_000_000, status: str = "succeeded",
                payment_intent: str | None = None, **fields: Any) -> dict:
    refund = {
        "id": id or new_id("re"), "object": "refund", "amount": amount,
        "balance_transaction": new_id("txn"), "charge": charge or new_id("ch"),
        "created": created, "currency": currency,
        "destination_details": {"card": {"reference_status": "pending", "reference_type":
                                         "acquirer_reference_number", "type": "refund"},
                                "type": "card"},
        "failure_balance_transaction": None, "failure_reason": None, "metadata": {},
        "payment_intent": payment_intent, "reason": "requested_by_customer",
        "receipt_number": None, "source_transfer_reversal": None, "status": status,
        "transfer_reversal": None,
    }
    refund.update(fields)
    return refund


def _evidence() -> dict:
    keys = ("access_activity_log billing_address cancellation_policy cancellation_policy_disclosure "
            "cancellation_rebuttal customer_communication customer_email_address customer_name "
            "customer_purchase_ip customer_signature duplicate_charge_documentation "
            "duplicate_charge_explanation duplicate_charge_id product_description receipt "
            "refund_policy refund_policy_disclosure refund_refusal_explanation service_date "
            "service_documentation shipping_address shipping_carrier shipping_date "
            "shipping_documentation shipping_tracking_number uncategorized_file "
            "uncategorized_text").split()
    evidence: dict[str, Any] = dict.fromkeys(keys)
    evidence["enhanced_evidence"] = {}
    return evidence


def make_dispute(*, id: str | None = None, charge: str | None = None, amount: int = 2000,
                 currency: str = "usd", created: int = 1_760_000_000,
                 status: str = "needs_response", reason: str = "fraudulent",
                 due_by: int | None = None, payment_intent: str | None = None,
                 **fields: Any) -> dict:
    dispute = {
        "id": id or new_id("du"), "object": "dispute", "amount": amount,
        "balance_transactions": [], "charge": charge or new_id("ch"), "created": created,
        "currency": currency, "enhanced_eligibility_types": [], "evidence": _evidence(),
        "evidence_details": {"due_by": created + 7 * 86400 if due_by is None else due_by,
                             "enhanced_eligibility": {}, "has_evidence": False,
                             "past_due": False, "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {},
        "network_reason_code": "10.4", "payment_intent": payment_intent,
        "payment_method_details": {"card": {"brand": "visa", "case_type": "chargeback",
                                            "network_reason_code": "10.4"}, "type": "card"},
        "reason": reason, "status": status,
    }
    dispute.update(fields)
    return dispute


def make_early_fraud_warning(*, id: str | None = None, charge: str | None = None,
                             created: int = 1_760_000_000, actionable: bool = True,
                             fraud_type: str = "made_with_stolen_card", **fields: Any) -> dict:
    warning = {"id": id or new_id("issfr"), "object": "radar.early_fraud_warning",
               "actionable": actionable, "charge": charge or new_id("ch"), "created": created,
               "fraud_type": fraud_type, "livemode": False, "payment_intent": None}
    warning.update(fields)
    return warning


def make_file(*, id: str | None = None, created: int = 1_760_000_000,
              purpose: str = "dispute_evidence", size: int = 12_345, **fields: Any) -> dict:
    file_id = id or new_id("file")
    obj = {"id": file_id, "object": "file", "created": created, "expires_at": created + 270 * 86400,
           "filename": "receipt.pdf", "links": {"object": "list", "data": [], "has_more": False,
                                                "url": f"/v1/file_links?file={file_id}"},
           "purpose": purpose, "size": size, "title": None, "type": "pdf",
           "url": f"https://files.stripe.com/v1/files/{file_id}/contents"}
    obj.update(fields)
    return obj


def make_event(type: str, obj: dict, *, created: int | None = None, id: str | None = None,
               account: str | None = None, livemode: bool = False,
               previous_attributes: dict | None = None) -> dict:
    """A snapshot event carrying a deep copy of ``obj`` as ``data.object``."""
    data: dict[str, Any] = {"object": copy.deepcopy(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    event = {
        "id": id or new_id("evt"), "object": "event", "api_version": API_VERSION,
        "created": obj.get("created", 0) if created is None else created, "data": data,
        "livemode": livemode, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": type,
    }
    if account is not None:
        event["account"] = account
    return event


# --- event histories (what Stripe sends over an object's life) ---------------------------------

def dispute_history(*, start: int = 1_760_000_000, charge: str | None = None) -> tuple[list[dict], dict]:
    """A chargeback's events, won, in true order; returns (events, final dispute).

    Includes two events in the same second that order by rank (created + funds_withdrawn) and two
    in the last second that cannot be ordered from the data (closed + a metadata update).
    """
    d = make_dispute(charge=charge, created=start)
    events = [make_event("charge.dispute.created", d, created=start)]
    d["balance_transactions"] = [{"id": new_id("txn"), "object": "balance_transaction",
                                  "amount": -d["amount"], "fee": 1500}]
    events.append(make_event("charge.dispute.funds_withdrawn", d, created=start))
    d["evidence"]["product_description"] = "Blue running shoes, size 42"
    d["evidence_details"]["has_evidence"] = True
    events.append(make_event("charge.dispute.updated", d, created=start + 60))
    d["evidence"]["customer_email_address"] = "jenny@example.com"
    events.append(make_event("charge.dispute.updated", d, created=start + 90))
    d["status"] = "under_review"
    d["evidence_details"]["submission_count"] = 1
    events.append(make_event("charge.dispute.updated", d, created=start + 120))
    end = start + 30 * 86400
    d["status"] = "won"
    d["balance_transactions"].append({"id": new_id("txn"), "object": "balance_transaction",
                                      "amount": d["amount"], "fee": -1500})
    events.append(make_event("charge.dispute.funds_reinstated", d, created=end))
    events.append(make_event("charge.dispute.closed", d, created=end))
    d["metadata"] = {"desk_case": "closed-won"}
    events.append(make_event("charge.dispute.updated", d, created=end))
    return events, copy.deepcopy(d)


def refund_history(*, start: int = 1_760_000_000, charge: dict | None = None
                   ) -> tuple[list[dict], dict, dict]:
    """A refund that goes pending -> succeeded -> failed, with the charge's own events.

    Returns (events, final refund, final charge). The charge's ``charge.refunded`` snapshot never
    creates or changes a refund row: refunds come from ``refund.*`` events only.
    """
    ch = copy.deepcopy(charge) if charge else make_charge(created=start - 3600)
    r = make_refund(charge=ch["id"], amount=ch["amount"] // 2, created=start, status="pending",
                    pending_reason="processing")
    events = [make_event("refund.created", r, created=start)]
    r["status"], r["pending_reason"] = "succeeded", None
    events.append(make_event("refund.updated", r, created=start))
    ch["amount_refunded"] = r["amount"]
    events.append(make_event("charge.refunded", ch, created=start))
    r["destination_details"]["card"]["reference"] = "74273459238745903845"
    r["destination_details"]["card"]["reference_status"] = "available"
    events.append(make_event("refund.updated", r, created=start + 3600))
    later = start + 5 * 86400
    r["status"], r["failure_reason"] = "failed", "expired_or_canceled_card"
    r["failure_balance_transaction"] = new_id("txn")
    events.append(make_event("refund.failed", r, created=later))
    events.append(make_event("refund.updated", r, created=later))
    ch["amount_refunded"] = 0
    events.append(make_event("charge.updated", ch, created=later))
    return events, copy.deepcopy(r), copy.deepcopy(ch)


# --- fakes ------------------------------------------------------------------------------------

class ManualClock:
    """A clock tests move by hand (``now()`` in UTC epoch seconds)."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, value: float) -> None:
        with self._lock:
            self._now = float(value)


class FakeStripe:
    """Implements the mirror's ``ObjectFetcher``: objects held in a dict, calls recorded."""

    def __init__(self, objects: list[dict] | None = None) -> None:
        self.objects: dict[tuple[str, str], dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.failures_left = 0
        for obj in objects or []:
            self.put(obj)

    def put(self, obj: dict) -> None:
        self.objects[(obj["object"], obj["id"])] = copy.deepcopy(obj)

    def fetch_object(self, object_type: str, object_id: str, *,
                     account: str | None = None) -> dict:
        self.calls.append((object_type, object_id))
        if self.failures_left > 0:
            self.failures_left -= 1
            from disputedesk.errors import StripeUnavailable

            raise StripeUnavailable("fake Stripe is down", http_status=503)
        try:
            return copy.deepcopy(self.objects[(object_type, object_id)])
        except KeyError:
            from disputedesk.errors import NotFound

            raise NotFound(f"no such {object_type}: '{object_id}'", object_id=object_id) from None


# --- a real server for integration tests ---------------------------------------------------------

@contextlib.contextmanager
def run_server(app, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a thread; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="on",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


# --- PostgreSQL databases for tests (DISPUTEDESK_TEST_DATABASE_URL) ------------------------

PG_ENV = "DISPUTEDESK_TEST_DATABASE_URL"


def postgres_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def create_pg_database(admin_url: str, prefix: str = "dd") -> str:
    """CREATE DATABASE <prefix>_<random> next to the admin URL's database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin_url: str, url: str) -> None:
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


# --- the desk pointed at an emulator (integration tests) ----------------------------------------

@contextlib.contextmanager
def desk_on_emulator(server, database_url: str, data_dir, *, manual_clock: bool = True,
                     **overrides: Any) -> Iterator[Any]:
    """``build_deps`` over ``database_url`` with the gateway pointed at a running emulator.

    With ``manual_clock`` the desk's clock starts at the emulator's and moves only when told.
    """
    from pydantic import SecretStr

    from disputedesk.config import Settings
    from disputedesk.wiring import build_deps

    values: dict[str, Any] = {"database_url": database_url, "data_dir": data_dir,
                              "stripe_api_key": SecretStr("sk_test_desk"),
                              "stripe_api_base": server.base_url, "stripe_rate_limit": 1000}
    values.update(overrides)
    clock = ManualClock(server.emulator.clock.now()) if manual_clock else None
    deps = build_deps(Settings(**values), clock=clock, migrate=False)
    try:
        yield deps
    finally:
        deps.close()


# --- the CLI as a proven desk user -------------------------------------------------------------

def cli_token(database_url: str, username: str, role: str, *, signed_in: bool = True,
              **overrides: Any) -> str:
    """A personal token for the desk user ``username`` (created with ``role`` when missing), to
    pass to the CLI as ``DISPUTEDESK_TOKEN``: what ``disputedesk login`` would store.

    ``signed_in=False`` makes an API token of the kind ``tokens create`` makes for a script
    instead (it may not decide approvals). The user's password is not needed: the helper writes
    to the database directly, as an admin with shell access could (docs/security.md).
    """
    from disputedesk.config import Settings
    from disputedesk.services import accounts
    from disputedesk.wiring import build_deps

    deps = build_deps(Settings(database_url=database_url, **overrides), gateway_factory=None,
                      migrate=False)
    try:
        if not any(u["username"] == username for u in accounts.list_users(deps)):
            accounts.create_user(deps, username=username, role=role, actor="test")
        _info, secret = accounts.create_token(
            deps, name=f"test {username} {secrets.token_hex(3)}", role=role, owner=username,
            actor="test", kind="login" if signed_in else "api")
    finally:
        deps.close()
    return secret


def cheap_password_hashing(monkeypatch) -> None:
    """The same algorithm (argon2id) at test-sized cost, in this process only: suites that sign in
    dozens of times stay fast, and CLI subprocesses still hash for real."""
    from argon2 import PasswordHasher

    from disputedesk.services import accounts

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", hasher.hash("dummy"))
