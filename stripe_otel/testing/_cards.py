"""Stripe's test cards: numbers, tokens, brands and the declines they trigger."""

from __future__ import annotations

from typing import Any

__all__ = ["DECLINES", "NUMBERS", "brand", "luhn_ok", "token_number"]

DECLINES: dict[str, dict[str, Any]] = {
    "generic_decline": {"code": "card_declined", "decline_code": "generic_decline",
                        "message": "Your card was declined."},
    "insufficient_funds": {"code": "card_declined", "decline_code": "insufficient_funds",
                           "message": "Your card has insufficient funds.",
                           "advice_code": "try_again_later"},
    "lost_card": {"code": "card_declined", "decline_code": "lost_card",
                  "message": "Your card was declined."},
    "stolen_card": {"code": "card_declined", "decline_code": "stolen_card",
                    "message": "Your card was declined."},
    "expired_card": {"code": "expired_card", "decline_code": "expired_card",
                     "message": "Your card has expired.", "param": "exp_month"},
    "incorrect_cvc": {"code": "incorrect_cvc", "decline_code": "incorrect_cvc",
                      "message": "Your card's security code is incorrect.", "param": "cvc"},
    "processing_error": {"code": "processing_error", "decline_code": "processing_error",
                         "message": "An error occurred while processing your card. "
                         "Try again in a little bit."},
}  # fmt: skip

# test card number -> decline reason (None: succeeds)
NUMBERS: dict[str, str | None] = {
    "4242424242424242": None,
    "4000056655665556": None,
    "5555555555554444": None,
    "378282246310005": None,
    "6011111111111117": None,
    "4000000000000002": "generic_decline",
    "4000000000009995": "insufficient_funds",
    "4000000000009987": "lost_card",
    "4000000000009979": "stolen_card",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    "4000000000000119": "processing_error",
}

# test token suffix (pm_card_<x>, tok_<x>) -> card number
_TOKENS = {
    "visa": "4242424242424242",
    "visa_debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "amex": "378282246310005",
    "discover": "6011111111111117",
    "chargeDeclined": "4000000000000002",
    "chargeDeclinedInsufficientFunds": "4000000000009995",
    "chargeDeclinedLostCard": "4000000000009987",
    "chargeDeclinedStolenCard": "4000000000009979",
    "chargeDeclinedExpiredCard": "4000000000000069",
    "chargeDeclinedIncorrectCvc": "4000000000000127",
    "chargeDeclinedProcessingError": "4000000000000119",
}


def brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def token_number(token: str) -> str | None:
    for prefix in ("pm_card_", "tok_"):
        if token.startswith(prefix):
            return _TOKENS.get(token[len(prefix) :])
    return None
