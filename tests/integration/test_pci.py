"""PCI safety: card numbers, CVCs, keys, emails and addresses sent through every call
style never appear in any exported span, event, status, link or log line."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import stripe
from opentelemetry.sdk.trace import ReadableSpan

from stripe_otel import semconv
from stripe_otel.testing import Fault
from tests.conftest import TEST_KEY, Telemetry
from tests.integration._stripe_calls import STYLES, stripe_client, use_global_transport

pytestmark = pytest.mark.integration

CARD = "4242424242424242"
CVC = "987"
EMAIL = "jane.secret@example.com"
PHONE = "+14155550123"
STREET = "1 Hidden Lane"
METADATA_VALUE = "meta-value-9f8e7d"
SENSITIVE = [CARD, EMAIL, PHONE, STREET, METADATA_VALUE, TEST_KEY, "Bearer"]


def _dump(span: ReadableSpan) -> str:
    """Everything a backend would receive about the span, as one string."""
    return json.dumps(
        {
            "name": span.name,
            "attributes": dict(span.attributes or {}),
            "status": span.status.description,
            "events": [(e.name, dict(e.attributes or {})) for e in span.events],
            "links": [dict(link.attributes or {}) for link in span.links],
            "resource": dict(span.resource.attributes),
        },
        default=str,
    )


def _assert_clean(text: str) -> None:
    for needle in SENSITIVE:
        assert needle not in text, f"{needle!r} leaked"
    # Three digits occur in ordinary values (ports, statuses): look for the CVC as a value.
    assert f'"{CVC}"' not in text, "CVC leaked"


CUSTOMER_PARAMS: dict[str, Any] = {
    "email": EMAIL,
    "phone": PHONE,
    "address": {"line1": STREET, "city": "Springfield"},
    "metadata": {"note": METADATA_VALUE},
}
PM_PARAMS: dict[str, Any] = {
    "type": "card",
    "card": {"number": CARD, "exp_month": 12, "exp_year": 2034, "cvc": CVC},
    "billing_details": {"email": EMAIL},
}


def _every_call(style: str, base_url: str) -> None:
    if style == "client":
        client = stripe_client(base_url, "requests")
        customer = client.v1.customers.create(params=CUSTOMER_PARAMS)
        client.v1.payment_methods.create(params=PM_PARAMS)
        client.v1.customers.update(customer.id, params={"metadata": {"k": METADATA_VALUE}})
        client.v1.customers.list(params={"email": EMAIL})
        client.raw_request("post", "/v1/customers", email=EMAIL)
        return
    use_global_transport("requests")
    customer = stripe.Customer.create(**CUSTOMER_PARAMS, idempotency_key=EMAIL)
    stripe.PaymentMethod.create(**PM_PARAMS)
    if style == "instance":
        customer.email = EMAIL
        customer.save()
    else:
        stripe.Customer.modify(customer.id, metadata={"k": METADATA_VALUE})
    stripe.Customer.list(email=EMAIL)


@pytest.mark.filterwarnings("ignore:The `save` method is deprecated:DeprecationWarning")
@pytest.mark.parametrize("style", STYLES)
def test_nothing_sensitive_is_exported(
    style: str, instrument: Telemetry, stripe_globals: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        _every_call(style, stripe_globals.url)
    spans = instrument.spans()
    assert len(instrument.operations()) >= 4
    for span in spans:
        _assert_clean(_dump(span))
        assert set(span.attributes or {}) <= semconv.ALL_ATTRIBUTES
    _assert_clean(
        "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("stripe_otel"))
    )


def test_error_messages_quoting_input_are_not_exported(
    instrument: Telemetry, stripe_globals: Any
) -> None:
    # Stripe's messages can echo what was sent; ours must not carry them on.
    stripe_globals.add_fault(
        Fault(
            status=400,
            error_type="invalid_request_error",
            code="email_invalid",
            param="email",
            message=f"Invalid email address: {EMAIL} (card {CARD})",
        )
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe.Customer.create(email=EMAIL)
    assert EMAIL in str(caught.value)  # the app still sees Stripe's full message
    [op] = instrument.operations()
    _assert_clean(_dump(op))
    assert op.attributes[semconv.STRIPE_ERROR_PARAM] == "email"


def test_sensitive_idempotency_key_is_dropped(instrument: Telemetry, stripe_globals: Any) -> None:
    stripe.Customer.create(description="x", idempotency_key=f"order-for-{EMAIL}")
    [op] = instrument.operations()
    assert semconv.STRIPE_IDEMPOTENCY_KEY not in op.attributes


def test_live_key_only_sets_livemode(instrument: Telemetry, stripe_globals: Any) -> None:
    live_key = "sk_live_51ThisIsNotARealKeyButLooksLikeOne000000000000"
    stripe.Customer.create(description="x", api_key=live_key)
    [op] = instrument.operations()
    assert op.attributes[semconv.STRIPE_LIVEMODE] is True
    assert live_key not in _dump(op)
    assert "sk_live" not in _dump(op)
