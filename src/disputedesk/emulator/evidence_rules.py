"""Dispute evidence as Stripe validates it: fields, text limits, file rules, CE 3.0 eligibility.

Pure functions over plain dicts, so the dispute handlers stay short and these rules can be tested
without a server. Limits come from Stripe's API reference: 5,000 characters for short text fields,
20,000 for the eight long ones, 150,000 across all text fields; evidence files must be uploads with
purpose ``dispute_evidence``; their combined size is capped at 5,000,000 bytes and combined page
count must stay under 50 (19 pages for Mastercard), one file per field.
"""

from __future__ import annotations

from typing import Any, Callable

from . import errors

LONG_TEXT = 20_000
SHORT_TEXT = 5_000
COMBINED_TEXT = 150_000
COMBINED_FILE_BYTES = 5_000_000
MAX_PAGES = 50  # combined pages must be fewer than this
MASTERCARD_MAX_PAGES = 19

TEXT_LIMITS: dict[str, int] = {
    "access_activity_log": LONG_TEXT,
    "billing_address": SHORT_TEXT,
    "cancellation_policy_disclosure": LONG_TEXT,
    "cancellation_rebuttal": LONG_TEXT,
    "customer_email_address": SHORT_TEXT,
    "customer_name": SHORT_TEXT,
    "customer_purchase_ip": SHORT_TEXT,
    "duplicate_charge_explanation": LONG_TEXT,
    "duplicate_charge_id": SHORT_TEXT,
    "product_description": LONG_TEXT,
    "refund_policy_disclosure": LONG_TEXT,
    "refund_refusal_explanation": LONG_TEXT,
    "service_date": SHORT_TEXT,
    "shipping_address": SHORT_TEXT,
    "shipping_carrier": SHORT_TEXT,
    "shipping_date": SHORT_TEXT,
    "shipping_tracking_number": SHORT_TEXT,
    "uncategorized_text": LONG_TEXT,
}

FILE_FIELDS: tuple[str, ...] = (
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
)

# Stripe's test-mode magic strings, read from evidence[uncategorized_text] on submission.
WINNING = "winning_evidence"
LOSING = "losing_evidence"
ESCALATE = "escalate_inquiry_evidence"

_IDENTIFIERS = ("customer_account_id", "customer_device_fingerprint", "customer_device_id",
                "customer_email_address", "customer_purchase_ip", "product_description")
_ADDRESS = ("city", "country", "line1", "line2", "postal_code", "state")

# file id -> {"purpose", "size", "pages"} of an upload (None when the account has no such file)
FileLookup = Callable[[str], "dict[str, Any] | None"]


def empty_evidence() -> dict[str, Any]:
    """A dispute's ``evidence`` before anything is staged: every field present and null."""
    ev: dict[str, Any] = {name: None for name in sorted((*TEXT_LIMITS, *FILE_FIELDS))}
    ev["appeal"] = None
    ev["enhanced_evidence"] = {}
    return dict(sorted(ev.items()))


def _param(*parts: str) -> str:
    return parts[0] + "".join(f"[{p}]" for p in parts[1:])


def _text(value: Any, param: str, limit: int | None) -> str | None:
    """A string param: ``""`` clears (None); too long or not a string is a 400 naming the param."""
    if not isinstance(value, str):
        raise errors.invalid(f"Invalid string: {param} must be a string, not a hash or array.",
                             param=param)
    if value == "":
        return None
    if limit is not None and len(value) > limit:
        raise errors.invalid(
            f"Invalid string: {value[:20]}...; must be at most {limit} characters "
            f"(got {len(value)}).", param=param)
    return value


def merge_evidence(current: dict[str, Any], given: Any, files: FileLookup,
                   *, brand: str | None = None) -> dict[str, Any]:
    """Validate ``evidence[...]`` params and return the dispute's new ``evidence`` hash.

    ``current`` is left untouched. Raises :class:`errors.APIError` like Stripe: unknown fields
    (``parameter_unknown``), over-long text, the 150,000-character total, file fields naming no
    upload or an upload of another purpose, and the combined file size and page budget.
    """
    if not isinstance(given, dict):
        raise errors.invalid("Invalid hash: evidence must be a hash of evidence fields.",
                             param="evidence")
    ev = dict(current)
    for name, value in given.items():
        param = _param("evidence", name)
        if name in TEXT_LIMITS:
            ev[name] = _text(value, param, TEXT_LIMITS[name])
        elif name in FILE_FIELDS:
            ev[name] = _file_field(value, param, files)
        elif name == "enhanced_evidence":
            ev[name] = _merge_enhanced(ev.get(name) or {}, value)
        elif name == "appeal":
            ev[name] = _appeal(value, files)
        else:
            raise errors.parameter_unknown(param)
    total = sum(len(ev[n]) for n in TEXT_LIMITS if ev.get(n))
    if total > COMBINED_TEXT:
        raise errors.invalid(
            f"The combined length of all evidence text fields is {total} characters; it must be "
            f"at most {COMBINED_TEXT}. Shorten the text or move it into a file.", param="evidence")
    _check_file_budget(ev, files, brand)
    return ev


def _file_field(value: Any, param: str, files: FileLookup) -> str | None:
    file_id = _text(value, param, SHORT_TEXT)
    if file_id is None:
        return None
    f = files(file_id)
    if f is None:
        raise errors.invalid(f"No such file upload: '{file_id}'", param=param,
                             code="resource_missing")
    if f.get("purpose") != "dispute_evidence":
        raise errors.invalid(
            f"The file {file_id} was uploaded with purpose '{f.get('purpose')}'; files used as "
            "dispute evidence must be uploaded with purpose 'dispute_evidence'.", param=param)
    return file_id


def _check_file_budget(ev: dict[str, Any], files: FileLookup, brand: str | None) -> None:
    size = pages = 0
    for name in FILE_FIELDS:
        file_id = ev.get(name)
        if not file_id:
            continue
        f = files(file_id) or {}
        size += int(f.get("size") or 0)  # the same file in two fields counts twice, as at Stripe
        pages += int(f.get("pages") or 1)
    if size > COMBINED_FILE_BYTES:
        raise errors.invalid(
            f"The combined size of the evidence files is {size} bytes; it must be at most "
            f"{COMBINED_FILE_BYTES} bytes (5 MB). Compress or merge the files.", param="evidence")
    if pages >= MAX_PAGES:
        raise errors.invalid(
            f"The evidence files have {pages} pages in all; the combined page count must be "
            f"fewer than {MAX_PAGES}.", param="evidence",
            code="dispute_evidence_page_limit_exceeded")
    if brand == "mastercard" and pages > MASTERCARD_MAX_PAGES:
        raise errors.invalid(
            f"The evidence files have {pages} pages in all; Mastercard disputes accept at most "
            f"{MASTERCARD_MAX_PAGES} pages.", param="evidence",
            code="dispute_evidence_page_limit_exceeded")


def _hash(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.invalid(f"Invalid hash: {param} must be a hash.", param=param)
    return value


def _flag(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise errors.invalid(f"Invalid boolean: {value!r}", param=param,
                         code="parameter_invalid_boolean")


def _appeal(value: Any, files: FileLookup) -> dict[str, Any] | None:
    if value == "":
        return None
    given = _hash(value, "evidence[appeal]")
    out: dict[str, Any] = {"card": None}
    for key, card in given.items():
        if key != "card":
            raise errors.parameter_unknown(_param("evidence", "appeal", key))
        if card == "":
            continue
        card = _hash(card, "evidence[appeal][card]")
        out_card: dict[str, Any] = {"reason_for_filing": None, "supporting_files": None}
        for k, v in card.items():
            p = _param("evidence", "appeal", "card", k)
            if k == "reason_for_filing":
                out_card[k] = _text(v, p, LONG_TEXT)
            elif k == "supporting_files":
                ids = [] if v == "" else (v if isinstance(v, list) else [v])
                out_card[k] = [_file_field(i, f"{p}[{n}]", files) for n, i in enumerate(ids)]
            else:
                raise errors.parameter_unknown(p)
        out["card"] = out_card
    return out


def _merge_enhanced(current: dict[str, Any], value: Any) -> dict[str, Any]:
    if value == "":
        return {}
    given = _hash(value, "evidence[enhanced_evidence]")
    out = dict(current)
    for program, body in given.items():
        p = _param("evidence", "enhanced_evidence", program)
        if program in ("visa_compliance", "mastercard_compliance"):
            body = _hash(body, p)
            for k in body:
                if k != "fee_acknowledged":
                    raise errors.parameter_unknown(f"{p}[{k}]")
            out[program] = {"fee_acknowledged": _flag(body.get("fee_acknowledged", False),
                                                      f"{p}[fee_acknowledged]")}
        elif program == "visa_compelling_evidence_3":
            out[program] = _merge_ce3(out.get(program), _hash(body, p), p)
        else:
            raise errors.parameter_unknown(p)
    return out


def _merge_ce3(current: dict[str, Any] | None, body: dict[str, Any], p: str) -> dict[str, Any]:
    out = dict(current or {"disputed_transaction": None, "prior_undisputed_transactions": []})
    for key, value in body.items():
        if key == "disputed_transaction":
            out[key] = _transaction(out.get(key), _hash(value, f"{p}[{key}]"),
                                    f"{p}[{key}]", disputed=True)
        elif key == "prior_undisputed_transactions":
            items = value if isinstance(value, list) else None
            if items is None:
                raise errors.invalid(f"Invalid array: {p}[{key}] must be an array.",
                                     param=f"{p}[{key}]")
            txs = []
            for i, item in enumerate(items):
                ip = f"{p}[{key}][{i}]"
                item = _hash(item, ip)
                if not item.get("charge"):
                    raise errors.parameter_missing(f"{ip}[charge]")
                charge = _text(item["charge"], f"{ip}[charge]", SHORT_TEXT) or ""
                if not charge.startswith(("ch_", "py_")):
                    raise errors.invalid(
                        f"Invalid charge: {charge} is not a charge id (ch_...); prior "
                        "undisputed transactions name charges, not PaymentIntents.",
                        param=f"{ip}[charge]")
                tx = _transaction(None, {k: v for k, v in item.items() if k != "charge"}, ip,
                                  disputed=False)
                txs.append({"charge": charge, **tx})
            out[key] = txs
        else:
            raise errors.parameter_unknown(f"{p}[{key}]")
    return out


def _transaction(current: dict[str, Any] | None, body: dict[str, Any], p: str,
                 *, disputed: bool) -> dict[str, Any]:
    fields = _IDENTIFIERS + (("merchandise_or_services",) if disputed else ())
    out = dict(current or {**{k: None for k in fields}, "shipping_address": None})
    for key, value in body.items():
        kp = f"{p}[{key}]"
        if key == "shipping_address":
            if value == "":
                out[key] = None
                continue
            addr = _hash(value, kp)
            for k in addr:
                if k not in _ADDRESS:
                    raise errors.parameter_unknown(f"{kp}[{k}]")
            out[key] = {k: _text(addr.get(k, ""), f"{kp}[{k}]", SHORT_TEXT) for k in _ADDRESS}
        elif key == "merchandise_or_services" and disputed:
            if value not in ("merchandise", "services"):
                raise errors.invalid(f"Invalid {kp}: must be one of merchandise or services",
                                     param=kp)
            out[key] = value
        elif key in _IDENTIFIERS:
            text = _text(value, kp, SHORT_TEXT)
            if text is not None and key == "customer_device_fingerprint" and len(text) < 20:
                raise errors.invalid(f"Invalid {kp}: must be at least 20 characters.", param=kp)
            if text is not None and key == "customer_device_id" and len(text) < 15:
                raise errors.invalid(f"Invalid {kp}: must be at least 15 characters.", param=kp)
            out[key] = text
        else:
            raise errors.parameter_unknown(kp)
    return out


def ce3_eligibility(enhanced: dict[str, Any]) -> dict[str, Any]:
    """``evidence_details.enhanced_eligibility.visa_compelling_evidence_3`` for staged evidence.

    Stripe's rules: a description of the disputed and of two prior undisputed transactions,
    ``merchandise_or_services`` set, and each prior transaction matching the disputed one on two
    main elements, or one main and one secondary. Main: the purchase IP; the device fingerprint or
    device id (together they are still one element). Secondary: shipping address, email, account id.
    As in test mode, prior charges' dates and payment methods are not checked.
    """
    ce3 = enhanced.get("visa_compelling_evidence_3")
    if not ce3:
        return {"required_actions": [], "status": "requires_action"}
    actions: list[str] = []
    disputed = ce3.get("disputed_transaction") or {}
    priors = ce3.get("prior_undisputed_transactions") or []
    if not disputed.get("product_description"):
        actions.append("missing_disputed_transaction_description")
    if not disputed.get("merchandise_or_services"):
        actions.append("missing_merchandise_or_services")
    if len(priors) < 2:
        actions.append("missing_prior_undisputed_transactions")
    if any(not p.get("product_description") for p in priors):
        actions.append("missing_prior_undisputed_transaction_description")
    if len(priors) < 2 or any(not _matches(disputed, p) for p in priors):
        actions.append("missing_customer_identifiers")
    return {"required_actions": sorted(set(actions)),
            "status": "qualified" if not actions else "requires_action"}


def _matches(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def same(key: str) -> bool:
        return bool(a.get(key)) and a.get(key) == b.get(key)

    main = int(same("customer_purchase_ip"))
    main += int(same("customer_device_fingerprint") or same("customer_device_id"))
    secondary = sum(same(k) for k in ("customer_email_address", "customer_account_id"))
    if a.get("shipping_address") and a.get("shipping_address") == b.get("shipping_address"):
        secondary += 1
    return main >= 2 or (main >= 1 and secondary >= 1)


def has_any_evidence(ev: dict[str, Any]) -> bool:
    """Whether anything at all is staged (``evidence_details.has_evidence``)."""
    if any(ev.get(n) for n in (*TEXT_LIMITS, *FILE_FIELDS)):
        return True
    return bool(ev.get("enhanced_evidence")) or bool(ev.get("appeal"))


def magic_outcome(ev: dict[str, Any]) -> str | None:
    """Which test-mode outcome the submitted evidence asks for (``None`` for a plain submission)."""
    text = (ev.get("uncategorized_text") or "").strip()
    for magic in (WINNING, LOSING, ESCALATE):
        if magic in text:
            return magic
    return None
