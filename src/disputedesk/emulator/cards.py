"""Stripe's test cards, by PaymentMethod name (``pm_card_*``), token (``tok_*``) and number.

``behaviour`` names what Stripe does after a successful charge with the card; the charge path
passes the card to the ``charge_succeeded`` hook and the disputes / early-fraud-warning modules
act on these names:

- ``dispute_fraudulent``            chargeback, reason ``fraudulent``           (4000000000000259)
- ``dispute_product_not_received``  chargeback, reason ``product_not_received`` (4000000000002685)
- ``inquiry``                       inquiry (``warning_needs_response``)        (4000000000001976)
- ``dispute_ce3_eligible``          Visa CE 3.0 eligible chargeback             (4000000404000038)
- ``dispute_multiple``              two disputes on one charge                  (4000000404000079)
- ``efw``                           early fraud warning                         (4000000000005423)

``refund_behaviour``: ``pending_then_succeeds`` (4000000000007726) and ``succeeds_then_fails``
(4000000000005126), implemented by the refunds module.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Decline:
    code: str            # error code: card_declined, expired_card, incorrect_cvc, ...
    decline_code: str    # generic_decline, insufficient_funds, lost_card, ...
    message: str


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str = "visa"
    funding: str = "credit"
    country: str = "US"
    names: tuple[str, ...] = ()
    decline: Decline | None = None
    behaviour: str | None = None
    refund_behaviour: str | None = None
    cvc_check: str = "pass"
    risk_level: str = "normal"
    risk_score: int = 32
    exp_month: int = 12
    exp_year: int = 2034
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def last4(self) -> str:
        return self.number[-4:]


_DECLINED = "Your card was declined."


def _decl(decline_code: str, code: str = "card_declined", message: str = _DECLINED) -> Decline:
    return Decline(code, decline_code, message)


CARDS: tuple[TestCard, ...] = (
    # success cards per brand
    TestCard("4242424242424242", names=("pm_card_visa", "tok_visa")),
    TestCard("4000056655665556", funding="debit", names=("pm_card_visa_debit", "tok_visa_debit")),
    TestCard("5555555555554444", brand="mastercard",
             names=("pm_card_mastercard", "tok_mastercard")),
    TestCard("5200828282828210", brand="mastercard", funding="debit",
             names=("pm_card_mastercard_debit", "tok_mastercard_debit")),
    TestCard("5105105105105100", brand="mastercard", funding="prepaid",
             names=("pm_card_mastercard_prepaid", "tok_mastercard_prepaid")),
    TestCard("378282246310005", brand="amex", names=("pm_card_amex", "tok_amex")),
    TestCard("6011111111111117", brand="discover", names=("pm_card_discover", "tok_discover")),
    TestCard("3056930009020004", brand="diners", names=("pm_card_diners", "tok_diners")),
    TestCard("3566002020360505", brand="jcb", country="JP", names=("pm_card_jcb", "tok_jcb")),
    TestCard("6200000000000005", brand="unionpay", country="CN",
             names=("pm_card_unionpay", "tok_unionpay")),
    TestCard("4000002500000003", country="FR", names=("pm_card_fr", "tok_fr")),
    TestCard("4000008260000000", country="GB", names=("pm_card_gb", "tok_gb")),
    # declines
    TestCard("4000000000000002", names=("pm_card_chargeDeclined", "tok_chargeDeclined"),
             decline=_decl("generic_decline")),
    TestCard("4000000000009995", names=("pm_card_chargeDeclinedInsufficientFunds",
                                        "tok_chargeDeclinedInsufficientFunds"),
             decline=_decl("insufficient_funds", message="Your card has insufficient funds.")),
    TestCard("4000000000009987", names=("pm_card_chargeDeclinedLostCard",
                                        "tok_chargeDeclinedLostCard"),
             decline=_decl("lost_card")),
    TestCard("4000000000009979", names=("pm_card_chargeDeclinedStolenCard",
                                        "tok_chargeDeclinedStolenCard"),
             decline=_decl("stolen_card")),
    TestCard("4000000000000069", names=("pm_card_chargeDeclinedExpiredCard",
                                        "tok_chargeDeclinedExpiredCard"),
             decline=_decl("expired_card", "expired_card", "Your card has expired.")),
    TestCard("4000000000000127", names=("pm_card_chargeDeclinedIncorrectCvc",
                                        "tok_chargeDeclinedIncorrectCvc"),
             decline=_decl("incorrect_cvc", "incorrect_cvc",
                           "Your card's security code is incorrect."), cvc_check="fail"),
    TestCard("4000000000000119", names=("pm_card_chargeDeclinedProcessingError",
                                        "tok_chargeDeclinedProcessingError"),
             decline=_decl("processing_error", "processing_error",
                           "An error occurred while processing your card. Try again in a "
                           "little bit.")),
    TestCard("4000000000006975", names=("pm_card_chargeDeclinedVelocityLimitExceeded",
                                        "tok_chargeDeclinedVelocityLimitExceeded"),
             decline=_decl("card_velocity_exceeded")),
    TestCard("4100000000000019", names=("pm_card_radarBlock", "tok_radarBlock",
                                        "pm_card_chargeDeclinedFraudulent",
                                        "tok_chargeDeclinedFraudulent"),
             decline=_decl("fraudulent"), risk_level="highest", risk_score=95),
    # disputes and early fraud warnings (behaviours implemented by other modules)
    TestCard("4000000000000259", names=("pm_card_createDispute", "tok_createDispute",
                                        "tok_card_createDispute"),
             behaviour="dispute_fraudulent"),
    TestCard("4000000000002685", names=("pm_card_createDisputeProductNotReceived",
                                        "tok_createDisputeProductNotReceived"),
             behaviour="dispute_product_not_received"),
    TestCard("4000000000001976", names=("pm_card_createDisputeInquiry",
                                        "tok_createDisputeInquiry"),
             behaviour="inquiry"),
    TestCard("4000000404000038", names=("pm_card_createCe3EligibleDispute",
                                        "tok_createCe3EligibleDispute"),
             behaviour="dispute_ce3_eligible"),
    TestCard("4000000404000079", names=("pm_card_createMultipleDisputes",
                                        "tok_createMultipleDisputes"),
             behaviour="dispute_multiple"),
    TestCard("4000000000005423", names=("pm_card_createEarlyFraudWarning",
                                        "tok_createEarlyFraudWarning"),
             behaviour="efw", risk_level="elevated", risk_score=72),
    # refund behaviours
    TestCard("4000000000007726", names=("pm_card_pendingRefund", "tok_pendingRefund"),
             refund_behaviour="pending_then_succeeds"),
    TestCard("4000000000005126", names=("pm_card_refundFail", "pm_card_refundFailure",
                                        "tok_refundFail", "tok_refundFailure"),
             refund_behaviour="succeeds_then_fails"),
)

BY_NAME: dict[str, TestCard] = {}
BY_NUMBER: dict[str, TestCard] = {}
for _card in CARDS:
    BY_NUMBER[_card.number] = _card
    for _name in _card.names:
        BY_NAME[_name] = _card


def lookup(name_or_number: str) -> TestCard | None:
    """A test card by ``pm_card_*`` / ``tok_*`` name or by number (spaces ignored)."""
    card = BY_NAME.get(name_or_number)
    if card is None:
        card = BY_NUMBER.get(name_or_number.replace(" ", ""))
    return card
