"""scrub() against generated secrets: the gaps the leak scanner found, kept closed.

The values an app (or a response) chooses and stripe-otel records after :func:`scrub`
(idempotency key, error code / decline code / param, API version, event type, rate-limit
reason) must never carry a card number in any printed layout, a CVC, a national-format
phone number, a street address or a postal code. And scrub must still let through what
those fields really hold: UUID idempotency keys, Stripe's enums, parameter paths, versions.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_otel._redact import scrub
from tests.reliability import _leak_scanner as ls
from tests.reliability._secret_strategies import (
    addresses,
    api_keys,
    card_numbers,
    cvcs,
    emails,
    phones,
    webhook_secrets,
)

_REPRODUCIBLE = settings(max_examples=1000, deadline=None, derandomize=True, database=None)

secrets = st.one_of(
    card_numbers(), cvcs, api_keys(), webhook_secrets(), emails(), phones(), addresses()
)


def _recordable_forms(secret: ls.Secret) -> list[str]:
    """The secret as it could arrive in a recorded field: whole, or blamed as a parameter.

    An address's street line and postal code count on their own. A key's random body
    alone does not: without its prefix it is indistinguishable from any random id (the
    leak scanner still looks for it, since nothing should ever copy it anywhere).
    """
    parts = secret.parts if secret.kind == ls.ADDRESS else ()
    return [form for value in (secret.value, *parts) for form in (value, f"metadata[{value}]")]


@_REPRODUCIBLE
@given(secret=secrets)
def test_scrub_drops_every_generated_secret(secret: ls.Secret) -> None:
    for form in _recordable_forms(secret):
        assert scrub(form) is None, f"{secret.kind} kept: {form!r}"


@pytest.mark.parametrize(
    "value",
    [
        "4000-0000-00006",  # a 13-digit Visa printed 4-4-5 (was recorded)
        "4000 0000 00006",
        "(415) 555-0123",  # national phone formats had no "+" (were recorded)
        "415-555-0123",
        "415.555.0123",
        "4155550123",
        "020 7946 0958",
        "987",  # a CVC
        "metadata[987]",
        "1 Hidden Lane",  # a street line
        "SW1A 1AA",  # postal codes
        "94107-1234",
        "600, 2026-10-28.endive",  # a header that joined an echoed value with the real one
    ],
)
def test_found_leaks_stay_closed(value: str) -> None:
    assert scrub(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "card_declined",
        "insufficient_funds",
        "invalid_request_error",
        "items[0][price]",
        "payment_method_data[billing_details][email]",
        "metadata[order_id]",
        "2026-10-28.endive",
        "2020-08-27",  # API versions before 2024 were bare dates
        "payment_intent.succeeded",
        "order-1234",
        "global-rate",
        "1234567890123",  # 13 digits, not Luhn-valid: no card
        "12",
    ],
)
def test_what_those_fields_really_hold_is_kept(value: str) -> None:
    assert scrub(value) == value


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(key=st.uuids(version=4))
def test_sdk_idempotency_keys_are_kept(key: uuid.UUID) -> None:
    # The SDK's own idempotency keys are uuid4s; none may be mistaken for a secret.
    assert scrub(str(key)) == str(key)


def test_scrub_label_remembers_only_safe_values() -> None:
    from stripe_otel import _redact

    assert _redact.scrub_label("2026-10-28.endive") == "2026-10-28.endive"
    assert "2026-10-28.endive" in _redact._safe_labels
    assert _redact.scrub_label("4242 4242 4242 4242") is None
    assert not any("4242" in label for label in _redact._safe_labels)
