"""Who paid: the identifiers a charge carries (IP, device, email, account, addresses, card).

Stripe does not record the buyer's IP or device on a charge; merchants put them in ``metadata``.
:class:`MetadataKeys` names the keys to look in (first non-empty wins); the defaults cover the
common spellings. The composer and the CE 3.0 matcher both read identifiers through here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class MetadataKeys:
    ip: tuple[str, ...] = ("customer_purchase_ip", "customer_ip", "ip_address", "client_ip", "ip")
    device_fingerprint: tuple[str, ...] = ("customer_device_fingerprint", "device_fingerprint")
    device_id: tuple[str, ...] = ("customer_device_id", "device_id")
    account_id: tuple[str, ...] = ("customer_account_id", "account_id", "user_id", "login")
    order_id: tuple[str, ...] = ("order_id", "order", "order_number")


DEFAULT_KEYS = MetadataKeys()
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")


@dataclass(frozen=True)
class Identifiers:
    charge_id: str | None = None
    ip: str | None = None
    device_fingerprint: str | None = None
    device_id: str | None = None
    email: str | None = None
    account_id: str | None = None
    shipping_address: Mapping[str, Any] | None = None
    billing_address: Mapping[str, Any] | None = None
    name: str | None = None
    card_fingerprint: str | None = None
    payment_method: str | None = None


def _first(meta: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def card_of(charge: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((charge.get("payment_method_details") or {}).get("card") or {})


def _address(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping) and any(value.get(k) for k in ADDRESS_FIELDS):
        return value
    return None


def charge_identifiers(charge: Mapping[str, Any], keys: MetadataKeys = DEFAULT_KEYS,
                       order: Mapping[str, Any] | None = None) -> Identifiers:
    """Identifiers of ``charge``; values in ``order`` (the merchant's record) take precedence."""
    meta = charge.get("metadata") or {}
    billing = charge.get("billing_details") or {}
    shipping = charge.get("shipping") or {}
    order = order or {}
    order_shipping = order.get("shipping") if isinstance(order.get("shipping"), Mapping) else {}
    return Identifiers(
        charge_id=charge.get("id"),
        ip=order.get("customer_purchase_ip") or order.get("ip") or _first(meta, keys.ip),
        device_fingerprint=order.get("device_fingerprint") or _first(meta, keys.device_fingerprint),
        device_id=order.get("device_id") or _first(meta, keys.device_id),
        email=(order.get("customer_email") or order.get("email") or billing.get("email")
               or charge.get("receipt_email") or None),
        account_id=order.get("customer_account_id") or _first(meta, keys.account_id),
        shipping_address=_address((order_shipping or {}).get("address")) or _address(shipping.get("address")),
        billing_address=_address(billing.get("address")),
        name=order.get("customer_name") or billing.get("name") or shipping.get("name") or None,
        card_fingerprint=card_of(charge).get("fingerprint"),
        payment_method=charge.get("payment_method") if isinstance(charge.get("payment_method"), str) else None,
    )


def format_address(address: Mapping[str, Any] | None) -> str | None:
    """One line, the parts in postal order: "1 Main St, Apt 2, Springfield, IL 62701, US"."""
    if not address:
        return None
    city_line = " ".join(p for p in (address.get("state"), address.get("postal_code")) if p)
    parts = [address.get("line1"), address.get("line2"), address.get("city"), city_line,
             address.get("country")]
    text = ", ".join(str(p).strip() for p in parts if p and str(p).strip())
    return text or None


def _norm(text: Any) -> str:
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def normalize_address(address: Mapping[str, Any] | None) -> str | None:
    """A comparison key for addresses: case, accents and punctuation ignored."""
    if not address:
        return None
    key = "|".join(_norm(address.get(k)) for k in ADDRESS_FIELDS)
    return key if key.replace("|", "") else None


def normalize_email(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None
