"""The order fields, the names merchants give them, and turning a raw record into an order.

A raw record is whatever a source hands over: a CSV row, a JSON object (flat or nested), a SQL
result row. :func:`normalize_record` finds each order field in it (an explicit mapping first, then
the common names in :data:`FIELDS`), converts the value (emails lower-cased, amounts to integer
minor units with :mod:`disputedesk.domain.money`, dates to UTC epoch seconds) and returns the
composer's order dict plus every problem found, so a file import can report all of them at once.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from disputedesk.domain.money import exponent, to_minor
from disputedesk.errors import MoneyError
from disputedesk.evidence.limits import TEXT_FIELDS
from disputedesk.evidence.templates import PRODUCT_TYPES

AmountUnit = Literal["auto", "minor", "major"]
AMOUNT_UNITS = ("auto", "minor", "major")


@dataclass(frozen=True)
class FieldSpec:
    name: str                 # the flat name used in mappings and file headers
    path: str                 # where it lives in the order dict (dotted)
    kind: str                 # how the value is converted
    aliases: tuple[str, ...] = ()


_ADDR = "shipping.address."
BASE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("id", "id", "id", ("order_id", "order", "order_number", "order_no", "order_ref",
                                 "order_reference", "reference", "number")),
    FieldSpec("payment_intent", "payment_intent", "payment_intent",
              ("payment_intent_id", "stripe_payment_intent", "stripe_payment_intent_id", "pi")),
    FieldSpec("charge", "charge", "charge_id", ("charge_id", "stripe_charge", "stripe_charge_id")),
    FieldSpec("amount", "amount", "money", ("total", "order_total", "grand_total", "total_amount",
                                            "amount_total", "total_price", "amount_paid")),
    FieldSpec("currency", "currency", "currency", ("currency_code", "order_currency")),
    FieldSpec("created", "created", "time", ("created_at", "order_date", "ordered_at", "placed_at",
                                             "purchased_at", "purchase_date", "processed_at", "date")),
    FieldSpec("customer_email", "customer_email", "email",
              ("email", "e_mail", "email_address", "customer_email_address", "buyer_email",
               "billing_email", "contact_email", "customer_e_mail")),
    FieldSpec("customer_name", "customer_name", "text",
              ("customer", "buyer_name", "billing_name", "full_name", "customer_full_name")),
    FieldSpec("customer_account_id", "customer_account_id", "text",
              ("account_id", "user_id", "customer_id", "login", "username")),
    FieldSpec("customer_purchase_ip", "customer_purchase_ip", "ip",
              ("ip", "ip_address", "customer_ip", "client_ip", "browser_ip", "purchase_ip")),
    FieldSpec("device_fingerprint", "device_fingerprint", "text", ("customer_device_fingerprint",)),
    FieldSpec("device_id", "device_id", "text", ("customer_device_id",)),
    FieldSpec("product_type", "product_type", "product_type", ()),
    FieldSpec("product_description", "product_description", "text",
              ("description", "products", "product", "product_name")),
    FieldSpec("items", "items", "items", ("line_items", "lines", "order_items")),
    FieldSpec("service_date", "service_date", "time", ("service_at", "served_at")),
    FieldSpec("shipping_line1", _ADDR + "line1", "text",
              ("shipping_address", "shipping_address1", "shipping_address_1", "shipping_address_line1", "shipping_street",
               "ship_address1", "shipping_address_line_1")),
    FieldSpec("shipping_line2", _ADDR + "line2", "text",
              ("shipping_address2", "shipping_address_2", "shipping_address_line2",
               "ship_address2", "shipping_address_line_2")),
    FieldSpec("shipping_city", _ADDR + "city", "text", ("ship_city", "shipping_town")),
    FieldSpec("shipping_state", _ADDR + "state", "text",
              ("shipping_province", "shipping_region", "shipping_province_code", "ship_state")),
    FieldSpec("shipping_postal_code", _ADDR + "postal_code", "text",
              ("shipping_zip", "shipping_postcode", "shipping_zip_code", "ship_zip")),
    FieldSpec("shipping_country", _ADDR + "country", "country",
              ("shipping_country_code", "ship_country")),
    FieldSpec("shipping_carrier", "shipping.carrier", "text",
              ("carrier", "shipping_company", "tracking_company", "courier")),
    FieldSpec("tracking_number", "shipping.tracking_number", "tracking",
              ("tracking", "tracking_numbers", "tracking_code", "shipping_tracking_number",
               "shipping_tracking_numbers")),
    FieldSpec("shipped_at", "shipping.shipped_at", "time",
              ("ship_date", "shipping_date", "fulfilled_at", "shipping_shipped_at")),
    FieldSpec("delivered_at", "shipping.delivered_at", "time",
              ("delivery_date", "shipping_delivered_at")),
    FieldSpec("access_log", "access_log", "access_log", ("activity_log", "access_activity")),
    FieldSpec("terms_accepted_at", "terms_accepted_at", "time", ("tos_accepted_at",)),
    FieldSpec("renewal_notice_sent_at", "renewal_notice_sent_at", "time", ()),
    FieldSpec("customer_contacted_support", "customer_contacted_support", "bool", ()),
    FieldSpec("duplicate_charge_id", "duplicate_charge_id", "charge_id", ()),
)
_BASE_NAMES = {a for f in BASE_FIELDS for a in (f.name, *f.aliases)}
# Any other Stripe evidence text field by its own name (the composer copies it as is).
FIELDS: tuple[FieldSpec, ...] = BASE_FIELDS + tuple(
    FieldSpec(name, name, "text") for name in sorted(TEXT_FIELDS) if name not in _BASE_NAMES)

FIELDS_BY_NAME = {f.name: f for f in FIELDS}
FIELDS_BY_PATH = {f.path: f for f in FIELDS}


def norm_key(name: str) -> str:
    """"Order #" -> "order", "Shipping Address 1" -> "shipping_address_1", "customer.email" ->
    "customer_email": how headers and JSON keys are compared with the field names."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for spec in FIELDS:
        for alias in (spec.name, spec.path, *spec.aliases):
            index.setdefault(norm_key(alias), spec.name)
    return index


ALIASES = _alias_index()


def field_for(name: str) -> FieldSpec | None:
    """The field a mapping target names: its flat name, its dotted path, or a common alias."""
    spec = FIELDS_BY_NAME.get(name) or FIELDS_BY_PATH.get(name)
    if spec is None:
        target = ALIASES.get(norm_key(name))
        spec = FIELDS_BY_NAME.get(target) if target else None
    return spec


def check_mapping(mapping: Mapping[str, str] | None) -> dict[str, str]:
    """Validate ``{order field: where to find it}``; returns it keyed by flat field name.

    Raises ``ValueError`` naming the unknown fields (callers wrap it in their own error).
    """
    out: dict[str, str] = {}
    unknown = []
    for target, source in (mapping or {}).items():
        spec = field_for(target)
        if spec is None:
            unknown.append(target)
            continue
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"the mapping for '{target}' must name a column or a dotted path")
        out[spec.name] = source.strip()
    if unknown:
        raise ValueError(f"unknown order fields in the mapping: {', '.join(map(repr, unknown))}; "
                         f"order fields are: {', '.join(f.name for f in BASE_FIELDS)}, or a Stripe "
                         "evidence text field")
    return out


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one value: which column, what is wrong, how to fix it."""

    column: str | None
    field: str | None
    message: str
    hint: str = ""

    def describe(self) -> str:
        where = f"column '{self.column}': " if self.column else ""
        return f"{where}{self.message}" + (f" ({self.hint})" if self.hint else "")


@dataclass
class Normalized:
    data: dict[str, Any] | None
    problems: list[FieldProblem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)   # raw keys no order field reads


# --- finding values in a raw record --------------------------------------------------------------

def dotted_get(record: Any, path: str) -> Any:
    """``customer.email`` or ``fulfillments.0.tracking_number`` in nested dicts and lists."""
    if isinstance(record, Mapping) and path in record:
        return record[path]
    current = record
    for part in path.split("."):
        if isinstance(current, Mapping):
            if part not in current:
                return None
            current = current[part]
        elif isinstance(current, (list, tuple)) and part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(current) <= idx < len(current):
                return None
            current = current[idx]
        else:
            return None
    return current


def _flatten(record: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and norm_key(name) not in ALIASES_LIST_KINDS:
            yield from _flatten(value, name + ".")
        else:
            yield name, value


ALIASES_LIST_KINDS = frozenset(k for k, v in ALIASES.items()
                               if FIELDS_BY_NAME[v].kind in ("items", "access_log"))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


# --- converters: each returns the value or raises _Bad(message, hint) ----------------------------

class _Bad(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "...'"


def _text(value: Any) -> str:
    if isinstance(value, (Mapping, list, tuple)):
        raise _Bad(f"{_show(value)} is a structure, not text", "give plain text")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _id(value: Any) -> str:
    text = _text(value)
    if len(text) > 200:
        raise _Bad("the order id is longer than 200 characters", "use the order number people see")
    return text


def _prefixed(prefixes: tuple[str, ...], what: str):
    def convert(value: Any) -> str:
        text = _text(value)
        if not text.startswith(prefixes) or not re.fullmatch(r"[A-Za-z0-9_]+", text):
            raise _Bad(f"{_show(text)} is not a Stripe {what}",
                       f"it starts with {' or '.join(p for p in prefixes)}, as in {prefixes[0]}3Mx...")
        return text
    return convert


_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: Any) -> str:
    text = _text(value).lower()
    text = text.removeprefix("mailto:")
    if not _EMAIL_RE.match(text):
        raise _Bad(f"{_show(text)} is not an email address", "write it like jane@example.com")
    return text


def _ip(value: Any) -> str:
    text = _text(value)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _Bad(f"{_show(text)} is not an IP address", "write it like 203.0.113.7 or 2001:db8::1") from None


def _currency(value: Any) -> str:
    text = _text(value).lower()
    if not re.fullmatch(r"[a-z]{3}", text):
        raise _Bad(f"{_show(text)} is not a currency code", "use a three-letter ISO code such as usd or eur")
    return text


def _country(value: Any) -> str:
    text = _text(value)
    return text.upper() if re.fullmatch(r"[A-Za-z]{2}", text) else text


def epoch_seconds(value: Any) -> int:
    """UTC epoch seconds from epoch numbers, datetimes, dates and ISO 8601 text (naive = UTC)."""
    if isinstance(value, bool):
        raise _Bad(f"{_show(value)} is not a date", "use ISO 8601 (2026-03-04T15:20:00Z) or epoch seconds")
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        value = Decimal(value.strip())
    if isinstance(value, (int, float, Decimal)):
        seconds = int(value)
        if seconds < 0:
            raise _Bad(f"{_show(value)} is before 1970", "use epoch seconds or ISO 8601")
        if seconds > 100_000_000_000:
            raise _Bad(f"{_show(value)} looks like milliseconds, not seconds",
                       "divide by 1000, or send ISO 8601 text")
        return seconds
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
        except ValueError:
            raise _Bad(f"cannot read the date {_show(text)}",
                       "use ISO 8601 such as 2026-03-04 or 2026-03-04T15:20:00Z, or epoch seconds") from None
    else:
        raise _Bad(f"{_show(value)} is not a date", "use ISO 8601 text or epoch seconds")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _time(value: Any) -> int:
    return epoch_seconds(value)


_TRUE = {"true", "yes", "y", "1", "t", "on", "x"}
_FALSE = {"false", "no", "n", "0", "f", "off"}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad(f"{_show(value)} is not yes or no", "use true/false, yes/no or 1/0")


def _product_type(value: Any) -> str:
    text = norm_key(_text(value))
    text = {"physical": "physical_goods", "digital": "digital_goods", "service": "services",
            "goods": "physical_goods"}.get(text, text)
    if text not in PRODUCT_TYPES:
        raise _Bad(f"{_show(value)} is not a product type", f"use one of {', '.join(PRODUCT_TYPES)}")
    return text


def _json_list(value: Any, what: str) -> list:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _Bad(f"the {what} are not valid JSON: {exc.msg} at character {exc.pos}",
                           "write a JSON list, e.g. [{\"name\": \"Mug\", \"quantity\": 2}]") from None
    if isinstance(value, Mapping):
        value = [value]
    return value


def _items(value: Any) -> list[dict[str, Any]]:
    value = _json_list(value, "items")
    if isinstance(value, str):
        # "2 x Mug; Tea towel": one item per ";"-separated part.
        value = [p.strip() for p in value.split(";") if p.strip()]
    if not isinstance(value, (list, tuple)):
        raise _Bad(f"{_show(value)} is not a list of items", "give a JSON list of {name, description, quantity}")
    out = []
    for n, item in enumerate(value, 1):
        if isinstance(item, str):
            m = re.fullmatch(r"\s*(\d+)\s*[x×*]\s+(.+)", item)
            out.append({"name": m[2].strip(), "quantity": int(m[1])} if m else {"name": item.strip()})
            continue
        if not isinstance(item, Mapping):
            raise _Bad(f"item {n} is {_show(item)}, not an object", "give each item a name")
        name = item.get("name") or item.get("title") or item.get("product_name") or item.get("sku")
        if _empty(name):
            raise _Bad(f"item {n} has no name", "give each item a name (or title)")
        entry: dict[str, Any] = {"name": _text(name)}
        if not _empty(item.get("description")):
            entry["description"] = _text(item["description"])
        qty = item.get("quantity", item.get("qty"))
        if not _empty(qty):
            try:
                quantity = int(Decimal(str(qty)))
            except (InvalidOperation, ValueError):
                raise _Bad(f"item {n} has quantity {_show(qty)}", "use a whole number") from None
            if quantity < 0 or Decimal(str(qty)) != quantity:
                raise _Bad(f"item {n} has quantity {_show(qty)}", "use a whole number, 0 or more")
            entry["quantity"] = quantity
        out.append(entry)
    return out


def _access_log(value: Any) -> list[dict[str, Any]]:
    value = _json_list(value, "access log entries")
    if not isinstance(value, (list, tuple)):
        raise _Bad(f"{_show(value)} is not a list of access log entries",
                   "give a JSON list of {at, ip, action, detail}")
    out = []
    for n, entry in enumerate(value, 1):
        if not isinstance(entry, Mapping):
            raise _Bad(f"access log entry {n} is not an object", "give {at, ip, action, detail}")
        at = entry.get("at", entry.get("time", entry.get("timestamp")))
        if _empty(at):
            raise _Bad(f"access log entry {n} has no time", "give 'at' as ISO 8601 or epoch seconds")
        try:
            item: dict[str, Any] = {"at": epoch_seconds(at)}
            if not _empty(entry.get("ip")):
                item["ip"] = _ip(entry["ip"])
        except _Bad as bad:
            raise _Bad(f"access log entry {n}: {bad.message}", bad.hint) from None
        for key in ("action", "detail"):
            if not _empty(entry.get(key)):
                item[key] = _text(entry[key])
        out.append(item)
    return out


def _tracking(value: Any) -> str | list[str]:
    if isinstance(value, (list, tuple)):
        numbers = [_text(v) for v in value if not _empty(v)]
    else:
        numbers = [p for p in re.split(r"[,;\s]+", _text(value)) if p]
    if not numbers:
        raise _Bad("no tracking number given", "leave the cell empty or give the number")
    return numbers[0] if len(numbers) == 1 else numbers


CONVERTERS = {
    "id": _id,
    "text": _text,
    "payment_intent": _prefixed(("pi_",), "PaymentIntent id"),
    "charge_id": _prefixed(("ch_", "py_"), "charge id"),
    "email": _email,
    "ip": _ip,
    "currency": _currency,
    "country": _country,
    "time": _time,
    "bool": _bool,
    "product_type": _product_type,
    "items": _items,
    "access_log": _access_log,
    "tracking": _tracking,
}

_SYMBOLS = "$€£¥₹₩₽₺₪"


def looks_major(value: Any) -> bool:
    """True for an amount written the way people write money (a decimal point, a currency)."""
    if isinstance(value, (float, Decimal)):
        return True
    return isinstance(value, str) and bool(re.search(r"[.A-Za-z" + _SYMBOLS + "]", value))


def amount_minor(value: Any, currency: str | None, unit: AmountUnit) -> int:
    """An order amount in integer minor units.

    ``unit="auto"``: a typed integer is minor units (Stripe's convention, ``4500``); a decimal, a
    float or text with a decimal point or a currency is major units (``"45.00"``, ``"45 USD"``).
    Text with digits only is ambiguous (``"45"``) unless the currency has no minor unit.
    """
    if isinstance(value, bool):
        raise _Bad(f"{_show(value)} is not an amount", "give the amount, e.g. 45.00")
    text = value.strip() if isinstance(value, str) else value
    code = None
    if isinstance(text, str):
        m = re.fullmatch(r"([A-Za-z]{3})?\s*([" + _SYMBOLS + r"]?)\s*(-?[0-9][0-9,_]*(?:\.[0-9]+)?)\s*([A-Za-z]{3})?",
                         text)
        if not m or (m[1] and m[4]):
            raise _Bad(f"cannot read the amount {_show(value)}", "write it like 45.00 or 45.00 USD")
        code = (m[1] or m[4] or "").lower() or None
        number = m[3]
        if "," in number and not re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", number):
            raise _Bad(f"{_show(value)} uses a comma that is not a thousands separator",
                       "write the decimal part with a point: 45.50")
        text = number.replace(",", "").replace("_", "")
    if code and currency and code != currency:
        raise _Bad(f"the amount {_show(value)} is in {code.upper()} but the order's currency is "
                   f"{currency.upper()}", "make them agree")
    currency = code or currency
    if not currency:
        raise _Bad(f"the amount {_show(value)} has no currency",
                   "add a currency column, write it like 45.00 USD, or set default_currency")
    major = unit == "major" or (unit == "auto" and looks_major(value))
    try:
        number = Decimal(str(text))
        if unit == "auto" and isinstance(value, str) and not looks_major(value) and exponent(currency) > 0:
            raise _Bad(f"the amount {_show(value)} could be minor or major units",
                       f"write {value}.00 for major units, or set amount_unit to \"minor\" or \"major\"")
        if major:
            minor = to_minor(number, currency)
        else:
            if number != number.to_integral_value():
                raise _Bad(f"{_show(value)} is not a whole number of minor units",
                           "amount_unit is \"minor\": give cents, e.g. 4550 for 45.50")
            minor = int(number)
    except MoneyError as exc:
        raise _Bad(exc.message, exc.hint or "") from None
    except InvalidOperation:
        raise _Bad(f"cannot read the amount {_show(value)}", "write it like 45.00") from None
    if minor < 0:
        raise _Bad(f"the amount {_show(value)} is negative", "give the order total paid")
    return minor


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


# --- the normaliser ------------------------------------------------------------------------------

def normalize_record(
    record: Mapping[str, Any],
    *,
    mapping: Mapping[str, str] | None = None,
    amount_unit: AmountUnit = "auto",
    default_currency: str | None = None,
    require_id: bool = True,
) -> Normalized:
    """Find, convert and validate every order field of ``record``.

    ``mapping`` is ``{order field: column or dotted path}`` (already checked with
    :func:`check_mapping`); fields it does not name are found by their common names.
    """
    mapping = dict(mapping or {})
    problems: list[FieldProblem] = []
    found: dict[str, tuple[str, Any]] = {}   # field name -> (column, raw value)
    used: set[str] = set()

    for name, source in mapping.items():
        value = dotted_get(record, source)
        used.add(source.split(".")[0] if source not in record else source)
        if not _empty(value):
            found[name] = (source, value)

    ignored: list[str] = []
    for column, value in _flatten(record):
        if column in used or column.split(".")[0] in used:
            continue
        target = ALIASES.get(norm_key(column))
        if target is None:
            if not _empty(value):
                ignored.append(column)
            continue
        if target in mapping:
            continue
        if _empty(value):
            continue
        if target in found:
            other_column, other_value = found[target]
            if other_value != value:
                problems.append(FieldProblem(
                    column, target,
                    f"both '{other_column}' and '{column}' give {target}, with different values",
                    f"map {target} to one of them explicitly, or drop one column"))
            continue
        found[target] = (column, value)

    data: dict[str, Any] = {}
    currency = None
    order_of_work = sorted(found, key=lambda n: 0 if n == "currency" else 1)
    for name in order_of_work:
        column, value = found[name]
        spec = FIELDS_BY_NAME[name]
        try:
            if spec.kind == "money":
                converted: Any = amount_minor(value, currency or default_currency, amount_unit)
            else:
                converted = CONVERTERS[spec.kind](value)
        except _Bad as bad:
            problems.append(FieldProblem(column, name, bad.message, bad.hint))
            continue
        if name == "currency":
            currency = converted
        if _empty(converted):
            continue
        _set_path(data, spec.path, converted)

    if "amount" in data and "currency" not in data:
        data["currency"] = _money_currency(found["amount"][1]) or (default_currency or "").lower()
    if require_id and not data.get("id") and not any(p.field == "id" for p in problems):
        problems.append(FieldProblem(None, "id", "no order id",
                                     "add an order id column (id, order_id or order_number) or map one"))
    return Normalized(None if problems else data, problems, ignored)


def _money_currency(value: Any) -> str | None:
    if isinstance(value, str):
        m = re.search(r"[A-Za-z]{3}", value)
        return m[0].lower() if m else None
    return None
