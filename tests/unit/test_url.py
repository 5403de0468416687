import pytest

from stripe_otel._url import operation_name, singular, url_template


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("/v1/payment_intents", "/v1/payment_intents"),
        (
            "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm",
            "/v1/payment_intents/{intent}/confirm",
        ),
        ("/v1/customers/cus_NffrFeUfNV2Hib?expand[]=sources", "/v1/customers/{customer}"),
        ("/v1/customers/cus_1A/sources/card_1B", "/v1/customers/{customer}/sources/{source}"),
        ("/v1/payment_methods/pm_card_visa", "/v1/payment_methods/{payment_method}"),
        ("/v1/checkout/sessions/cs_test_a1b2C3", "/v1/checkout/sessions/{session}"),
        ("/v2/core/events/evt_test_65RabcDEF", "/v2/core/events/{event}"),
        ("/v1/customers/search", "/v1/customers/search"),
        ("/v1/products/my-product.v2", "/v1/products/{product}"),
        ("/v1/3d_secure", "/v1/3d_secure"),
        ("https://files.stripe.com/v1/quotes/qt_1A/pdf", "/v1/quotes/{quote}/pdf"),
    ],
)
def test_ids_become_placeholders(url: str, template: str) -> None:
    assert url_template(url) == template


def test_no_id_survives_in_a_template() -> None:
    # A random Stripe-shaped id must never reach a span name, whatever its characters.
    for ident in ("pi_ABCDEFGHIJKL", "pi_abcdefghijkl1", "cus_" + "x" * 14, "ch_0000"):
        assert ident not in url_template(f"/v1/things/{ident}/do")


@pytest.mark.parametrize(
    ("method", "template", "operation"),
    [
        ("POST", "/v1/payment_intents", "PaymentIntent.create"),
        ("GET", "/v1/payment_intents", "PaymentIntent.list"),
        ("GET", "/v1/payment_intents/{intent}", "PaymentIntent.retrieve"),
        ("POST", "/v1/payment_intents/{intent}", "PaymentIntent.update"),
        ("POST", "/v1/payment_intents/{intent}/confirm", "PaymentIntent.confirm"),
        ("DELETE", "/v1/customers/{customer}", "Customer.delete"),
        ("GET", "/v1/customers/search", "Customer.search"),
        ("GET", "/v1/customers/{customer}/sources", "Customer.list_sources"),
        ("POST", "/v1/charges/{charge}/refunds", "Charge.create_refund"),
        ("POST", "/v1/checkout/sessions", "checkout.Session.create"),
        ("GET", "/v2/core/events/{event}", "v2.core.Event.retrieve"),
        ("POST", "/v2/billing/meter_events", "v2.billing.MeterEvent.create"),
        ("GET", "/v1/prices/gold", None),  # an app's own word id: unknown, not invented
        ("GET", "/health", None),
    ],
)
def test_operation_name(method: str, template: str, operation: str | None) -> None:
    assert operation_name(method, template) == operation


@pytest.mark.parametrize(
    ("plural", "one"),
    [
        ("charges", "charge"),
        ("batches", "batch"),
        ("addresses", "address"),
        ("entries", "entry"),
        ("sessions", "session"),
    ],
)
def test_singular(plural: str, one: str) -> None:
    assert singular(plural) == one
