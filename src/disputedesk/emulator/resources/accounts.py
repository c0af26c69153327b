"""Accounts: ``GET /v1/account`` (the account the request acts as: the platform, or the
``Stripe-Account`` one) and ``GET /v1/accounts/{id}`` / ``GET /v1/accounts`` for the platform's
connected accounts.

A connected account is known once a request has used it in ``Stripe-Account`` (or it was
seeded); others answer Stripe's 403 for an account the key cannot reach. Each account object
is made the first time it is read (``created`` is that moment) and kept in the platform's
state, so ``on_behalf_of`` or ``account`` ids expand too. The platform is a ``standard``
account in the US; connected accounts are ``custom`` accounts the platform controls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors, params as P
from ..routing import Route
from ..state import Obj

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "account"


def _requirements() -> dict[str, Any]:
    return {"alternatives": [], "current_deadline": None, "currently_due": [],
            "disabled_reason": None, "errors": [], "eventually_due": [], "past_due": [],
            "pending_verification": []}


def build(account_id: str, *, platform: bool, created: int) -> Obj:
    name = "Emulator platform" if platform else f"Connected account {account_id[-6:]}"
    return {
        "id": account_id,
        "object": TYPE,
        "business_profile": {
            "annual_revenue": None, "estimated_worker_count": None, "mcc": "5734",
            "minority_owned_business_designation": None, "name": name,
            "product_description": None, "specified_commercial_transactions_act_url": None,
            "support_address": None, "support_email": None,
            "support_phone": None, "support_url": None, "url": None},
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": ({"type": "account"} if platform else
                       {"fees": {"payer": "application"}, "is_controller": True,
                        "losses": {"payments": "application"},
                        "requirement_collection": "stripe",
                        "stripe_dashboard": {"type": "express"}, "type": "application"}),
        "country": "US",
        "created": created,
        "default_currency": "usd",
        "details_submitted": True,
        "email": "owner@platform.example" if platform else None,
        "external_accounts": {"object": "list", "data": [], "has_more": False,
                              "url": f"/v1/accounts/{account_id}/external_accounts"},
        "future_requirements": _requirements(),
        "metadata": {},
        "payouts_enabled": True,
        "requirements": _requirements(),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {"icon": None, "logo": None, "primary_color": None,
                         "secondary_color": None},
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {"decline_on": {"avs_failure": False, "cvc_failure": False},
                              "statement_descriptor_prefix": None,
                              "statement_descriptor_prefix_kana": None,
                              "statement_descriptor_prefix_kanji": None},
            "dashboard": {"display_name": name, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": "offer"},
            "payments": {"statement_descriptor": "DISPUTEDESK EMULATOR",
                         "statement_descriptor_kana": None,
                         "statement_descriptor_kanji": None,
                         "statement_descriptor_prefix_kana": None,
                         "statement_descriptor_prefix_kanji": None},
            "payouts": {"debit_negative_balances": True,
                        "schedule": {"delay_days": 2, "interval": "daily"},
                        "statement_descriptor": None},
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": created, "ip": "127.0.0.1", "user_agent": None},
        "type": "standard" if platform else "custom",
    }


def account_object(ctx: "Ctx", account_id: str) -> Obj:
    """The stored account object (made on first read) of a known account."""
    emulator = ctx.emulator
    coll = emulator.platform.collection(TYPE)
    obj = coll.get(account_id)
    if obj is None:
        obj = build(account_id, platform=account_id == emulator.platform.id, created=ctx.now())
        coll.add(obj)
    return obj


def _no_access(account_id: str) -> errors.APIError:
    return errors.APIError(
        403, "invalid_request_error",
        f"The provided key does not have access to account '{account_id}' (or that account "
        "does not exist). Application access may have been revoked.",
        code="account_invalid", param="account")


def retrieve_own(ctx: "Ctx") -> Obj:
    return ctx.render(account_object(ctx, ctx.account.id))


def retrieve(ctx: "Ctx") -> Obj:
    account_id = ctx.path["id"]
    if ctx.account.connected and account_id != ctx.account.id:
        raise _no_access(account_id)  # a connected account sees only itself
    if account_id not in ctx.emulator.accounts:
        raise _no_access(account_id)
    return ctx.render(account_object(ctx, account_id))


def list_(ctx: "Ctx") -> Obj:
    if ctx.account.connected:
        raise errors.invalid("Only a platform can list its connected accounts; drop the "
                             "Stripe-Account header.", status=400)
    for account_id, state in list(ctx.emulator.accounts.items()):
        if state.connected:
            account_object(ctx, account_id)
    coll = ctx.emulator.platform.collection(TYPE)
    platform_id = ctx.emulator.platform.id
    objects_, has_more = P.page(coll, coll.ids(), ctx.params, "/v1/accounts",
                                lambda a: a["id"] != platform_id)
    return ctx.list_response(objects_, has_more, "/v1/accounts")


ROUTES = [
    Route("GET", "/v1/account", retrieve_own),
    Route("GET", "/v1/accounts", list_, P.LIST_PARAMS),
    Route("GET", "/v1/accounts/{id}", retrieve),
]
