"""Drive every operation the emulator serves over HTTP and collect what came back.

:func:`run` starts a seeded emulator on 127.0.0.1, registers a webhook endpoint pointing at a
local receiver, then walks every served route: successes, expansions, list pages and each class
of error, plus the flows that emit every event type (payments, declines, manual capture,
cancellation, refunds that go pending / fail, disputes won / lost / closed, inquiries, early
fraud warnings). Every response body, every ``/v1/events`` object and every webhook delivery is
kept as a :class:`Record`, to be checked against Stripe's description (``validate.py``).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx

from disputedesk.emulator import Emulator
from disputedesk.emulator.testing import running_emulator

KEY = "sk_test_conformance"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]"
       b"/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


@dataclass
class Record:
    source: str          # "response", "event" (from /v1/events) or "delivery" (webhook body)
    operation: str       # "POST /v1/refunds" (route template) or the event type
    status: int
    body: Any
    note: str = ""       # what this call exercised ("expand", "page", "404", ...)


def encode(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's bracket form encoding: ``a[b][0]=x``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            out += encode(value, name)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                if isinstance(v, dict):
                    out += encode(v, f"{name}[{i}]")
                else:
                    out.append((f"{name}[{i}]", _scalar(v)))
        else:
            out.append((name, _scalar(value)))
    return out


def _scalar(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


class Receiver:
    """A local webhook receiver recording every delivery body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Driver:
    def __init__(self, base_url: str, emulator: Emulator) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {KEY}"})
        self.emulator = emulator
        self.records: list[Record] = []

    def call(self, method: str, template: str, params: dict[str, Any] | None = None,
             note: str = "", headers: dict[str, str] | None = None, files: Any = None,
             **path: str) -> Any:
        url = template.format(**{k: quote(v, safe="") for k, v in path.items()})
        pairs = encode(params or {})
        if method in ("GET", "DELETE"):
            r = self.http.request(method, url, params=pairs, headers=headers)
        elif files is not None:
            r = self.http.post(url, data=dict(pairs), files=files, headers=headers)
        else:
            r = self.http.request(method, url, data=dict(pairs) if pairs else None,
                                  headers=headers)
        body = r.json()
        self.records.append(Record("response", f"{method} {template}", r.status_code, body,
                                   note))
        return body

    # -- helpers
    def pay(self, pm: str, **extra: Any) -> dict[str, Any]:
        return self.call("POST", "/v1/payment_intents",
                         {"amount": 2500, "currency": "usd", "payment_method": pm,
                          "confirm": True, **extra})


def scenario(d: Driver) -> None:  # noqa: C901 -- one linear walk over every route
    C = d.call
    em = d.emulator
    # ------------------------------------------------------------- payment intents
    pi = C("POST", "/v1/payment_intents", {"amount": 1999, "currency": "usd",
                                           "metadata": {"order_id": "o1"}})
    C("POST", "/v1/payment_intents/{id}", {"description": "updated", "metadata": {"k": "v"}},
      id=pi["id"])
    C("POST", "/v1/payment_intents/{id}/confirm", {"payment_method": "pm_card_visa"},
      id=pi["id"])
    C("GET", "/v1/payment_intents/{id}", id=pi["id"])
    C("GET", "/v1/payment_intents/{id}", {"expand": ["latest_charge", "payment_method"]},
      note="expand", id=pi["id"])
    C("GET", "/v1/payment_intents/{id}",
      {"expand": ["latest_charge.balance_transaction", "latest_charge.refunds"]},
      note="expand", id=pi["id"])
    shipped = d.pay("pm_card_mastercard", shipping={
        "name": "Ada", "phone": "+15555550100", "carrier": "UPS", "tracking_number": "1Z",
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345",
                    "country": "US", "state": "IL"}}, receipt_email="ada@example.com",
        description="with shipping")
    C("POST", "/v1/payment_intents", {"amount": 900, "currency": "usd", "confirm": True,
                                      "payment_method": "pm_card_chargeDeclined"},
      note="402 card_error")
    C("POST", "/v1/payment_intents", {"amount": 900, "currency": "usd", "confirm": True,
                                      "payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
      note="402 card_error")
    manual = C("POST", "/v1/payment_intents", {"amount": 3000, "currency": "eur", "confirm": True,
                                               "capture_method": "manual",
                                               "payment_method": "pm_card_visa"})
    C("POST", "/v1/payment_intents/{id}/capture", {"amount_to_capture": 2000}, id=manual["id"])
    held = C("POST", "/v1/payment_intents", {"amount": 3000, "currency": "usd", "confirm": True,
                                             "capture_method": "manual",
                                             "payment_method": "pm_card_amex"})
    C("POST", "/v1/payment_intents/{id}/cancel", {"cancellation_reason": "abandoned"},
      id=held["id"])
    open_pi = C("POST", "/v1/payment_intents", {"amount": 1000, "currency": "usd"})
    C("POST", "/v1/payment_intents/{id}/cancel", id=open_pi["id"])
    C("POST", "/v1/payment_intents/{id}/capture", id=open_pi["id"], note="400 state")
    C("POST", "/v1/payment_intents/{id}/confirm", id=open_pi["id"], note="400 state")
    C("GET", "/v1/payment_intents/{id}", id="pi_doesnotexist", note="404")
    C("POST", "/v1/payment_intents", {"amount": 100}, note="400 parameter_missing")
    C("POST", "/v1/payment_intents", {"amount": "x", "currency": "usd"},
      note="400 parameter_invalid_integer")
    C("POST", "/v1/payment_intents", {"amount": 100, "currency": "usd", "bogus": "1"},
      note="400 parameter_unknown")
    C("GET", "/v1/payment_intents", {"limit": 3})
    page = C("GET", "/v1/payment_intents", {"limit": 2, "expand": ["data.latest_charge"]},
             note="list expand")
    C("GET", "/v1/payment_intents", {"limit": 2, "starting_after": page["data"][-1]["id"]},
      note="page")
    C("GET", "/v1/payment_intents", {"limit": 2, "ending_before": page["data"][-1]["id"]},
      note="page")
    C("GET", "/v1/payment_intents", {"limit": 1000}, note="400 limit")

    # ------------------------------------------------------------- charges
    ch = C("POST", "/v1/charges", {"amount": 1200, "currency": "usd", "source": "tok_visa",
                                   "description": "legacy"})
    C("POST", "/v1/charges/{id}", {"metadata": {"a": "b"}, "description": "d2",
                                   "fraud_details": {"user_report": "safe"}}, id=ch["id"])
    auth = C("POST", "/v1/charges", {"amount": 1500, "currency": "usd", "source": "tok_mastercard",
                                     "capture": False})
    C("POST", "/v1/charges/{id}/capture", {"amount": 1000}, id=auth["id"])
    C("POST", "/v1/charges/{id}/capture", id=auth["id"], note="400 already captured")
    C("POST", "/v1/charges", {"amount": 1200, "currency": "usd", "source": "tok_chargeDeclined"},
      note="402 card_error")
    C("GET", "/v1/charges/{id}", id=ch["id"])
    C("GET", "/v1/charges/{id}", {"expand": ["balance_transaction", "refunds"]}, note="expand",
      id=ch["id"])
    C("GET", "/v1/charges/{id}", {"expand": ["payment_intent"]}, note="expand",
      id=shipped["latest_charge"])
    C("GET", "/v1/charges/{id}", id="ch_doesnotexist", note="404")
    page = C("GET", "/v1/charges", {"limit": 3, "expand": ["data.balance_transaction"]},
             note="list expand")
    C("GET", "/v1/charges", {"limit": 2, "starting_after": page["data"][-1]["id"]}, note="page")
    C("GET", "/v1/charges", {"payment_intent": pi["id"]})
    C("GET", "/v1/charges", {"created": {"gte": 0}, "limit": 5})

    # ------------------------------------------------------------- refunds
    paid = d.pay("pm_card_visa")
    r1 = C("POST", "/v1/refunds", {"payment_intent": paid["id"], "amount": 500,
                                   "reason": "requested_by_customer"})
    C("POST", "/v1/refunds/{id}", {"metadata": {"why": "test"}}, id=r1["id"])
    C("GET", "/v1/refunds/{id}", id=r1["id"])
    C("GET", "/v1/refunds/{id}", {"expand": ["charge", "balance_transaction", "payment_intent"]},
      note="expand", id=r1["id"])
    C("POST", "/v1/refunds", {"charge": paid["latest_charge"]})
    C("POST", "/v1/refunds", {"charge": paid["latest_charge"]}, note="400 already refunded")
    C("POST", "/v1/refunds", {"charge": ch["id"], "amount": 999999}, note="400 amount")
    C("GET", "/v1/refunds/{id}", id="re_doesnotexist", note="404")
    pending = d.pay("pm_card_pendingRefund")
    rp = C("POST", "/v1/refunds", {"payment_intent": pending["id"]})
    failing = d.pay("pm_card_refundFail")
    C("POST", "/v1/refunds", {"payment_intent": failing["id"]})
    pending2 = d.pay("pm_card_pendingRefund")
    rp2 = C("POST", "/v1/refunds", {"payment_intent": pending2["id"]})
    C("POST", "/v1/refunds/{id}/cancel", id=rp2["id"])
    C("POST", "/v1/test_helpers/refunds/{id}/expire", id=rp["id"])
    legacy = d.pay("pm_card_visa")
    C("POST", "/v1/charges/{charge}/refunds", {"amount": 300}, charge=legacy["latest_charge"])
    lr = C("GET", "/v1/charges/{charge}/refunds", charge=legacy["latest_charge"])
    C("GET", "/v1/charges/{charge}/refunds/{id}", charge=legacy["latest_charge"],
      id=lr["data"][0]["id"])
    C("POST", "/v1/charges/{charge}/refund", {"amount": 200}, charge=legacy["latest_charge"])
    page = C("GET", "/v1/refunds", {"limit": 2, "expand": ["data.charge"]}, note="list expand")
    C("GET", "/v1/refunds", {"limit": 2, "starting_after": page["data"][-1]["id"]}, note="page")
    C("GET", "/v1/refunds", {"charge": legacy["latest_charge"]})
    em.advance(10)

    # ------------------------------------------------------------- disputes
    won = d.pay("pm_card_createDispute")
    lost = d.pay("pm_card_createDisputeProductNotReceived")
    accepted = d.pay("pm_card_createDispute")
    inquiry = d.pay("pm_card_createDisputeInquiry")
    d.pay("pm_card_createCe3EligibleDispute")
    d.pay("pm_card_createMultipleDisputes")
    em.advance(2)
    disputes = C("GET", "/v1/disputes", {"limit": 20})
    by_charge = {x["charge"]: x for x in disputes["data"]}
    dw = by_charge[won["latest_charge"]]
    C("GET", "/v1/disputes/{dispute}", dispute=dw["id"])
    C("GET", "/v1/disputes/{dispute}", {"expand": ["charge", "payment_intent"]}, note="expand",
      dispute=dw["id"])
    C("POST", "/v1/disputes/{dispute}", {"evidence": {"customer_name": "Ada"}, "submit": False},
      dispute=dw["id"])
    C("POST", "/v1/disputes/{dispute}", {"evidence": {"uncategorized_text": "winning_evidence"}},
      dispute=dw["id"])
    dl = by_charge[lost["latest_charge"]]
    C("POST", "/v1/charges/{charge}/dispute",
      {"evidence": {"uncategorized_text": "losing_evidence"}}, charge=lost["latest_charge"])
    C("GET", "/v1/charges/{charge}/dispute", charge=lost["latest_charge"])
    C("POST", "/v1/disputes/{dispute}/close", dispute=by_charge[accepted["latest_charge"]]["id"])
    C("POST", "/v1/disputes/{dispute}/close", dispute=by_charge[accepted["latest_charge"]]["id"],
      note="400 closed")
    C("POST", "/v1/charges/{charge}/dispute/close", charge=inquiry["latest_charge"])
    C("POST", "/v1/disputes/{dispute}", {"evidence": {"nope": "x"}}, dispute=dl["id"],
      note="400 parameter_unknown")
    C("GET", "/v1/disputes/{dispute}", dispute="du_doesnotexist", note="404")
    C("POST", "/v1/refunds", {"charge": accepted["latest_charge"]}, note="400 charge_disputed")
    page = C("GET", "/v1/disputes", {"limit": 2, "expand": ["data.charge"]}, note="list expand")
    C("GET", "/v1/disputes", {"limit": 2, "starting_after": page["data"][-1]["id"]}, note="page")
    em.advance(10)

    # ------------------------------------------------------------- early fraud warnings
    efw_pi = d.pay("pm_card_createEarlyFraudWarning")
    em.advance(2)
    efws = C("GET", "/v1/radar/early_fraud_warnings", {"limit": 5})
    warning = efws["data"][0]
    C("GET", "/v1/radar/early_fraud_warnings/{early_fraud_warning}",
      early_fraud_warning=warning["id"])
    C("GET", "/v1/radar/early_fraud_warnings/{early_fraud_warning}",
      {"expand": ["charge", "payment_intent"]}, note="expand", early_fraud_warning=warning["id"])
    C("GET", "/v1/radar/early_fraud_warnings/{early_fraud_warning}",
      early_fraud_warning="issfr_doesnotexist", note="404")
    C("POST", "/v1/refunds", {"payment_intent": efw_pi["id"]})
    C("GET", "/v1/radar/early_fraud_warnings", {"limit": 1, "starting_after": warning["id"]},
      note="page")

    # ------------------------------------------------------------- balance transactions
    bts = C("GET", "/v1/balance_transactions", {"limit": 3})
    C("GET", "/v1/balance_transactions/{id}", id=bts["data"][0]["id"])
    C("GET", "/v1/balance_transactions/{id}", {"expand": ["source"]}, note="expand",
      id=bts["data"][0]["id"])
    C("GET", "/v1/balance_transactions", {"limit": 2, "starting_after": bts["data"][-1]["id"]},
      note="page")
    C("GET", "/v1/balance_transactions/{id}", id="txn_doesnotexist", note="404")

    # ------------------------------------------------------------- files
    f = C("POST", "/v1/files", {"purpose": "dispute_evidence"},
          files={"file": ("receipt.pdf", PDF, "application/pdf")})
    C("POST", "/v1/files", {"purpose": "dispute_evidence", "file_link_data": {"create": True}},
      files={"file": ("receipt.pdf", PDF, "application/pdf")})
    C("POST", "/v1/files", {"purpose": "dispute_evidence"},
      files={"file": ("x.txt", b"hello", "text/plain")}, note="400 type")
    C("GET", "/v1/files/{file}", file=f["id"])
    C("GET", "/v1/files", {"limit": 2})
    C("GET", "/v1/files/{file}", file="file_doesnotexist", note="404")

    # ------------------------------------------------------------- webhook endpoints
    we = C("POST", "/v1/webhook_endpoints", {"url": "https://example.com/h",
                                             "enabled_events": ["charge.succeeded"],
                                             "description": "extra"})
    C("POST", "/v1/webhook_endpoints/{id}", {"disabled": True, "metadata": {"a": "b"}},
      id=we["id"])
    C("GET", "/v1/webhook_endpoints/{id}", id=we["id"])
    C("GET", "/v1/webhook_endpoints", {"limit": 5})
    C("DELETE", "/v1/webhook_endpoints/{id}", id=we["id"])
    C("GET", "/v1/webhook_endpoints/{id}", id=we["id"], note="404")
    C("POST", "/v1/webhook_endpoints", {"url": "https://example.com/h",
                                        "enabled_events": ["no.such_event"]}, note="400 event")

    # ------------------------------------------------------------- customers
    cus = C("POST", "/v1/customers", {
        "email": "grace@example.com", "name": "Grace", "phone": "+15555550101",
        "description": "conformance", "metadata": {"tier": "gold"},
        "address": {"line1": "2 Elm St", "city": "Springfield", "postal_code": "12345",
                    "country": "US"},
        "shipping": {"name": "Grace", "address": {"line1": "2 Elm St", "country": "US"}},
        "payment_method": "pm_card_visa", "preferred_locales": ["en"]})
    C("POST", "/v1/customers/{id}", {"description": "updated", "metadata": {"k": "v"},
                                     "invoice_settings": {"footer": "Thanks"}}, id=cus["id"])
    C("GET", "/v1/customers/{id}", id=cus["id"])
    C("GET", "/v1/customers/{id}", {"expand": ["sources", "tax_ids",
                                               "invoice_settings.default_payment_method"]},
      note="expand", id=cus["id"])
    C("GET", "/v1/customers/{id}", id="cus_doesnotexist", note="404")
    C("POST", "/v1/customers", {"email": "not-an-email"}, note="400 email_invalid")
    page = C("GET", "/v1/customers", {"limit": 3})
    C("GET", "/v1/customers", {"limit": 2, "starting_after": page["data"][-1]["id"]},
      note="page")
    C("GET", "/v1/customers", {"email": "grace@example.com"})
    paid_by = d.pay("pm_card_visa", customer=cus["id"])
    gone = C("POST", "/v1/customers", {"name": "Gone"})
    C("DELETE", "/v1/customers/{id}", id=gone["id"])
    C("GET", "/v1/customers/{id}", id=gone["id"], note="deleted")
    C("DELETE", "/v1/customers/{id}", id=gone["id"], note="404 deleted")

    # ------------------------------------------------------------- payment methods
    pms = C("GET", "/v1/customers/{customer}/payment_methods", {"type": "card"},
            customer=cus["id"])
    C("GET", "/v1/customers/{customer}/payment_methods/{id}", customer=cus["id"],
      id=pms["data"][0]["id"])
    C("GET", "/v1/customers/{customer}/payment_methods/{id}", customer=cus["id"],
      id="pm_doesnotexist", note="404")
    C("GET", "/v1/customers/{customer}/payment_methods", customer="cus_doesnotexist",
      note="404")
    C("GET", "/v1/payment_methods/{id}", id=paid_by["payment_method"])
    C("GET", "/v1/payment_methods/{id}", id="pm_card_mastercard")
    C("GET", "/v1/payment_methods/{id}", {"expand": ["customer"]}, note="expand",
      id=paid_by["payment_method"])
    C("GET", "/v1/payment_methods/{id}", id=ch["source"]["id"], note="legacy card")
    C("GET", "/v1/payment_methods/{id}", id="pm_doesnotexist", note="404")
    C("GET", "/v1/payment_methods", {"customer": cus["id"], "type": "card"})
    C("GET", "/v1/payment_methods", {"limit": 2})
    C("GET", "/v1/payment_methods", {"type": "nope"}, note="400 enum")

    # ------------------------------------------------------------- accounts
    acct = C("GET", "/v1/account")
    C("GET", "/v1/accounts/{id}", id=acct["id"])
    C("GET", "/v1/accounts/{id}", id="acct_doesnotexist", note="404")
    C("GET", "/v1/accounts", {"limit": 2})

    # ------------------------------------------------------------- more payment intent ops
    inc = C("POST", "/v1/payment_intents", {
        "amount": 4000, "currency": "usd", "confirm": True, "capture_method": "manual",
        "payment_method": "pm_card_visa",
        "payment_method_options": {"card": {"request_incremental_authorization":
                                            "if_available"}}})
    C("POST", "/v1/payment_intents/{id}/increment_authorization", {"amount": 4500},
      id=inc["id"])
    C("POST", "/v1/payment_intents/{id}/increment_authorization", {"amount": 100},
      note="400 amount", id=inc["id"])
    C("POST", "/v1/payment_intents/{id}/increment_authorization", {"amount": 5000},
      note="400 state", id=paid_by["id"])
    C("POST", "/v1/payment_intents/{id}/capture", id=inc["id"])
    C("POST", "/v1/payment_intents/{id}/apply_customer_balance", {"amount": 100},
      note="400 card only", id=open_pi["id"])
    C("POST", "/v1/payment_intents/{id}/verify_microdeposits", {"amounts": [32, 45]},
      note="400 state", id=open_pi["id"])
    C("POST", "/v1/payment_intents/{id}/verify_microdeposits", note="400 parameter_missing",
      id=open_pi["id"])

    # ------------------------------------------------------------- search
    C("GET", "/v1/charges/search", {"query": "status:'succeeded' AND amount>1000", "limit": 2})
    found = C("GET", "/v1/payment_intents/search",
              {"query": "metadata['order_id']:'o1' OR status:'canceled'", "limit": 1})
    if found.get("next_page"):
        C("GET", "/v1/payment_intents/search",
          {"query": "metadata['order_id']:'o1' OR status:'canceled'", "limit": 1,
           "page": found["next_page"]}, note="page")
    C("GET", "/v1/customers/search", {"query": "email~'grace'"})
    C("GET", "/v1/charges/search", {"query": "status:"}, note="400 query")

    # ------------------------------------------------------------- file links
    link = C("POST", "/v1/file_links", {"file": f["id"], "metadata": {"a": "b"}})
    C("POST", "/v1/file_links/{id}", {"metadata": {"c": "d"},
                                      "expires_at": em.clock.now() + 3600}, id=link["id"])
    C("GET", "/v1/file_links/{id}", id=link["id"])
    C("GET", "/v1/file_links/{id}", {"expand": ["file"]}, note="expand", id=link["id"])
    C("GET", "/v1/file_links/{id}", id="link_doesnotexist", note="404")
    C("GET", "/v1/file_links", {"limit": 2, "file": f["id"]})
    C("POST", "/v1/file_links/{id}", {"expires_at": "now"}, id=link["id"])
    C("POST", "/v1/file_links/{id}", {"expires_at": "now"}, id=link["id"], note="400 expired")
    C("GET", "/v1/file_links", {"expired": True})
    C("POST", "/v1/file_links", {"file": "file_doesnotexist"}, note="404")

    # ------------------------------------------------------------- charge refund update
    C("POST", "/v1/charges/{charge}/refunds/{id}", {"metadata": {"x": "y"}},
      charge=legacy["latest_charge"], id=lr["data"][0]["id"])
    C("POST", "/v1/charges/{charge}/refunds/{id}", {"metadata": {"x": "y"}},
      charge=ch["id"], id=lr["data"][0]["id"], note="404")

    # ------------------------------------------------------------- events, protocol errors
    events = C("GET", "/v1/events", {"limit": 3})
    C("GET", "/v1/events/{id}", id=events["data"][0]["id"])
    C("GET", "/v1/events", {"limit": 2, "starting_after": events["data"][-1]["id"]}, note="page")
    C("GET", "/v1/events", {"type": "charge.dispute.*", "limit": 3})
    C("GET", "/v1/events/{id}", id="evt_doesnotexist", note="404")
    r = d.http.get("/v1/charges", headers={"Authorization": ""})
    d.records.append(Record("response", "GET /v1/charges", r.status_code, r.json(), "401"))
    r = d.http.get("/v1/nothing_here")
    d.records.append(Record("response", "GET /v1/nothing_here", r.status_code, r.json(), "404 url"))
    key = {"Idempotency-Key": "conformance-1"}
    C("POST", "/v1/payment_intents", {"amount": 100, "currency": "usd"}, headers=key)
    C("POST", "/v1/payment_intents", {"amount": 200, "currency": "usd"}, headers=key,
      note="400 idempotency_error")


LISTS = ("/v1/payment_intents", "/v1/charges", "/v1/refunds", "/v1/disputes",
         "/v1/radar/early_fraud_warnings", "/v1/balance_transactions", "/v1/files",
         "/v1/webhook_endpoints", "/v1/customers", "/v1/payment_methods", "/v1/file_links")


def walk_lists(d: Driver) -> None:
    """Every object of every list, seed data included (each page is a record)."""
    for url in LISTS:
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = d.call("GET", url, params, note="all")
            if not page.get("has_more"):
                break
            params = {"limit": 100, "starting_after": page["data"][-1]["id"]}


def collect_events(d: Driver) -> list[dict[str, Any]]:
    """Every event through ``/v1/events`` pages (each page is a response record too)."""
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = d.call("GET", "/v1/events", params, note="all events")
        out += page["data"]
        if not page["has_more"]:
            return out
        params = {"limit": 100, "starting_after": page["data"][-1]["id"]}


def run(seed: int = 7, charges: int = 300) -> list[Record]:
    """Run everything against a fresh seeded emulator; returns every record."""
    receiver = Receiver()
    emulator = Emulator(seed=seed, webhook_retry_delays=(0.05,), webhook_timeout=5.0)
    try:
        with running_emulator(emulator) as server:
            d = Driver(server.base_url, emulator)
            httpx.post(server.base_url + "/_emulator/seed",
                       json={"customers": 40, "charges": charges, "seed": seed}).raise_for_status()
            d.call("POST", "/v1/webhook_endpoints", {"url": receiver.url,
                                                     "enabled_events": ["*"]})
            scenario(d)
            walk_lists(d)
            events = collect_events(d)
            for e in events:
                d.records.append(Record("event", e["type"], 200, e))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with receiver.lock:
                    if len(receiver.bodies) >= len(events):
                        break
                time.sleep(0.05)
            with receiver.lock:
                for body in receiver.bodies:
                    event = json.loads(body)
                    d.records.append(Record("delivery", event.get("type", "?"), 200, event))
            d.http.close()
            return d.records
    finally:
        receiver.close()



# ----------------------------------------------------------------------------- parameters

# served create/update/confirm/capture/cancel/list routes -> stripe-node's params interface
PARAM_ROUTES: dict[str, str] = {
    "POST /v1/payment_intents": "PaymentIntentCreateParams",
    "POST /v1/payment_intents/{id}": "PaymentIntentUpdateParams",
    "POST /v1/payment_intents/{id}/confirm": "PaymentIntentConfirmParams",
    "POST /v1/payment_intents/{id}/capture": "PaymentIntentCaptureParams",
    "POST /v1/payment_intents/{id}/cancel": "PaymentIntentCancelParams",
    "GET /v1/payment_intents": "PaymentIntentListParams",
    "GET /v1/payment_intents/{id}": "PaymentIntentRetrieveParams",
    "POST /v1/charges": "ChargeCreateParams",
    "POST /v1/charges/{id}": "ChargeUpdateParams",
    "POST /v1/charges/{id}/capture": "ChargeCaptureParams",
    "GET /v1/charges": "ChargeListParams",
    "POST /v1/refunds": "RefundCreateParams",
    "POST /v1/refunds/{id}": "RefundUpdateParams",
    "POST /v1/refunds/{id}/cancel": "RefundCancelParams",
    "GET /v1/refunds": "RefundListParams",
    "POST /v1/disputes/{dispute}": "DisputeUpdateParams",
    "POST /v1/disputes/{dispute}/close": "DisputeCloseParams",
    "GET /v1/disputes": "DisputeListParams",
    "GET /v1/radar/early_fraud_warnings": "Radar.EarlyFraudWarningListParams",
    "GET /v1/events": "EventListParams",
    "GET /v1/files": "FileListParams",
    "POST /v1/webhook_endpoints": "WebhookEndpointCreateParams",
    "POST /v1/webhook_endpoints/{id}": "WebhookEndpointUpdateParams",
    "GET /v1/webhook_endpoints": "WebhookEndpointListParams",
    "GET /v1/balance_transactions": "BalanceTransactionListParams",
    "POST /v1/payment_intents/{id}/increment_authorization":
        "PaymentIntentIncrementAuthorizationParams",
    "POST /v1/payment_intents/{id}/apply_customer_balance":
        "PaymentIntentApplyCustomerBalanceParams",
    "POST /v1/payment_intents/{id}/verify_microdeposits": "PaymentIntentVerifyMicrodepositsParams",
    "GET /v1/charges/search": "ChargeSearchParams",
    "GET /v1/payment_intents/search": "PaymentIntentSearchParams",
    "GET /v1/customers/search": "CustomerSearchParams",
    "POST /v1/customers": "CustomerCreateParams",
    "POST /v1/customers/{id}": "CustomerUpdateParams",
    "GET /v1/customers": "CustomerListParams",
    "GET /v1/payment_methods": "PaymentMethodListParams",
    "GET /v1/customers/{customer}/payment_methods": "CustomerListPaymentMethodsParams",
    "GET /v1/accounts": "AccountListParams",
    "POST /v1/file_links": "FileLinkCreateParams",
    "POST /v1/file_links/{id}": "FileLinkUpdateParams",
    "GET /v1/file_links": "FileLinkListParams",
    "POST /v1/charges/{charge}/refunds/{id}": "RefundUpdateParams",
}


@dataclass
class ParamResult:
    route: str
    param: str
    status: int
    body: Any

    @property
    def accepted(self) -> bool:
        err = self.body.get("error") if isinstance(self.body, dict) else None
        return not (err and err.get("code") == "parameter_unknown"
                    and str(err.get("param", "")).split("[")[0] == self.param)


def sample(spec: Any, text: str, scope: tuple[str, ...], depth: int = 0) -> Any:
    """A value of the declared type (first enum member, one member of a hash, ...)."""
    from stripe_spec import split_top

    parts = [p for p in split_top(text.strip().lstrip("|"), "|") if p not in ("null", "''")]
    t = parts[0]
    if t.startswith("'"):
        return t.strip("'")
    if t in ("string", "string & Record<never, never>"):
        return "x"
    if t == "number":
        return 1
    if t == "boolean":
        return False
    if t in ("MetadataParam", "Stripe.MetadataParam"):
        return {"k": "v"}
    if t.startswith("Emptyable<"):
        return sample(spec, t[len("Emptyable<"):-1], scope, depth)
    if t.startswith("Array<"):
        return [sample(spec, t[len("Array<"):-1], scope, depth)]
    if t.endswith("[]"):
        return [sample(spec, t[:-2], scope, depth)]
    if t.startswith("RangeQueryParam"):
        return {"gte": 1}
    decl = spec.resolve(t, scope)
    if decl is None or depth > 3:
        return "x"
    if decl.alias is not None:
        return sample(spec, decl.alias, decl.scope, depth)
    members = spec._members(decl)
    chosen = [n for n, m in members.items() if not m.optional] or list(members)[:1]
    inner = decl.scope + (decl.name.rsplit(".", 1)[-1],)
    return {n: sample(spec, members[n].type, inner, depth + 1) for n in chosen}


def param_acceptance(spec: Any, seed: int = 11) -> list[ParamResult]:
    """Send every parameter the current API lists for each served route, one at a time."""
    out: list[ParamResult] = []
    with running_emulator(Emulator(seed=seed)) as server:
        d = Driver(server.base_url, server.emulator)
        for route, interface in PARAM_ROUTES.items():
            method, template = route.split(" ", 1)
            for name, member in spec.params(interface).items():
                if name == "expand":
                    continue
                base, path = _base(d, template)
                value = sample(spec, member.type, ())
                params = dict(base, **{name: value})
                body = d.call(method, template, params, note=f"param {name}", **path)
                out.append(ParamResult(route, name, d.records[-1].status, body))
        d.http.close()
    return out


def _base(d: Driver, template: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The other params a route needs and a fresh object for its path."""
    if template == "/v1/payment_intents":
        return {"amount": 1000, "currency": "usd"}, {}
    if template == "/v1/charges":
        return {"amount": 1000, "currency": "usd", "source": "tok_visa"}, {}
    if template.endswith("/search"):
        return {"query": "created>0"}, {}
    if template.startswith("/v1/payment_intents/{id}"):
        manual = template.endswith(("capture", "increment_authorization"))
        pi = d.call("POST", "/v1/payment_intents", {
            "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa",
            "confirm": manual, **({"capture_method": "manual"} if manual else {})})
        return {}, {"id": pi["id"]}
    if template.startswith("/v1/charges/{id}"):
        ch = d.call("POST", "/v1/charges", {"amount": 1000, "currency": "usd",
                                            "source": "tok_visa", "capture": False})
        return {}, {"id": ch["id"]}
    if template == "/v1/refunds":
        ch = d.call("POST", "/v1/charges", {"amount": 1000, "currency": "usd",
                                            "source": "tok_visa"})
        return {"charge": ch["id"]}, {}
    if template.startswith("/v1/refunds/{id}"):
        ch = d.call("POST", "/v1/charges", {"amount": 1000, "currency": "usd",
                                            "source": "tok_visa"})
        return {}, {"id": d.call("POST", "/v1/refunds", {"charge": ch["id"]})["id"]}
    if template.startswith("/v1/disputes/{dispute}"):
        pi = d.pay("pm_card_createDispute")
        d.emulator.advance(2)
        du = d.call("GET", "/v1/disputes", {"payment_intent": pi["id"]})["data"][0]
        return {}, {"dispute": du["id"]}
    if template == "/v1/customers/{id}" or template.startswith("/v1/customers/{customer}"):
        cus = d.call("POST", "/v1/customers", {"name": "Param"})
        return {}, {"id": cus["id"], "customer": cus["id"]}
    if template.startswith("/v1/file_links"):
        f = d.call("POST", "/v1/files", {"purpose": "dispute_evidence"},
                   files={"file": ("receipt.pdf", PDF, "application/pdf")})
        if template == "/v1/file_links":
            return {"file": f["id"]}, {}
        return {}, {"id": d.call("POST", "/v1/file_links", {"file": f["id"]})["id"]}
    if template == "/v1/charges/{charge}/refunds/{id}":
        ch = d.call("POST", "/v1/charges", {"amount": 1000, "currency": "usd",
                                            "source": "tok_visa"})
        refund = d.call("POST", "/v1/refunds", {"charge": ch["id"]})
        return {}, {"charge": ch["id"], "id": refund["id"]}
    if template == "/v1/webhook_endpoints":
        return {"url": "https://example.com/h", "enabled_events": ["charge.succeeded"]}, {}
    if template == "/v1/webhook_endpoints/{id}":
        we = d.call("POST", "/v1/webhook_endpoints", {"url": "https://example.com/h",
                                                      "enabled_events": ["*"]})
        return {}, {"id": we["id"]}
    return {}, {}
