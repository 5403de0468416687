"""The real stripe SDK against StripeTestServer, on every transport."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from stripe_otel.testing import StripeTestServer

pytestmark = pytest.mark.integration

REQUEST_ID = re.compile(r"^req_[A-Za-z0-9]{14}$")
CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]{24}$")


def header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def make_http_client(kind: str) -> stripe.HTTPClient:
    if kind == "requests":
        return stripe.RequestsClient()
    if kind == "httpx":
        return stripe.HTTPXClient(allow_sync_methods=True)
    if kind == "urllib":
        return stripe.UrllibClient()
    raise AssertionError(kind)


@pytest.fixture(params=["requests", "httpx", "urllib"])
def client(
    request: pytest.FixtureRequest, server: StripeTestServer
) -> Iterator[stripe.StripeClient]:
    http_client = make_http_client(request.param)
    yield stripe.StripeClient(
        "sk_test_client", base_addresses={"api": server.url}, http_client=http_client
    )
    http_client.close()


def test_payment_flow_client_style(client: stripe.StripeClient, server: StripeTestServer) -> None:
    cus = client.v1.customers.create({"email": "jo@example.com", "metadata": {"order": "42"}})
    assert CUSTOMER_ID.match(cus.id)
    assert cus.email == "jo@example.com"
    assert cus.metadata["order"] == "42"
    assert cus.livemode is False
    assert REQUEST_ID.match(cus.last_response.request_id)

    pm = client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"},
        }
    )
    assert pm.card is not None
    assert (pm.card.brand, pm.card.last4, pm.card.exp_year) == ("visa", "4242", 2031)
    assert "4242424242424242" not in json.dumps(pm.to_dict())

    pi = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "usd", "customer": cus.id, "payment_method": pm.id}
    )
    assert pi.status == "requires_confirmation"
    pi = client.v1.payment_intents.confirm(pi.id)
    assert pi.status == "succeeded"
    assert pi.amount_received == 2000
    assert isinstance(pi.latest_charge, str)

    refund = client.v1.refunds.create({"payment_intent": pi.id, "amount": 500})
    assert refund.status == "succeeded"
    assert refund.amount == 500
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 500
    assert charge.refunded is False
    assert [r.id for r in client.v1.refunds.list({"payment_intent": pi.id}).data] == [refund.id]

    types = [e.type for e in client.v1.events.list({"limit": 100}).data]
    for expected in (
        "customer.created",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "refund.created",
        "charge.refunded",
    ):
        assert expected in types
    succeeded = client.v1.events.list({"type": "payment_intent.succeeded"}).data[0]
    assert succeeded.data.object["id"] == pi.id
    assert succeeded.request is not None and succeeded.request.id
    assert REQUEST_ID.match(succeeded.request.id)
    assert isinstance(succeeded.created, int)
    assert client.v1.events.retrieve(succeeded.id).type == "payment_intent.succeeded"


def test_payment_flow_global_style(global_stripe: StripeTestServer) -> None:
    stripe.default_http_client = stripe.RequestsClient()
    cus = stripe.Customer.create(name="Jo")
    pi = stripe.PaymentIntent.create(
        amount=1500,
        currency="eur",
        customer=cus.id,
        payment_method="pm_card_visa",
        confirm=True,
        expand=["customer", "latest_charge"],
    )
    assert pi.status == "succeeded"
    assert pi.customer.id == cus.id
    assert pi.latest_charge.amount_captured == 1500
    assert pi.payment_method.startswith("pm_") and pi.payment_method != "pm_card_visa"

    pi2 = stripe.PaymentIntent.create(
        amount=900,
        currency="usd",
        capture_method="manual",
        payment_method="pm_card_mastercard",
        confirm=True,
    )
    assert pi2.status == "requires_capture"
    pi2 = stripe.PaymentIntent.capture(pi2.id, amount_to_capture=700)
    assert (pi2.status, pi2.amount_received) == ("succeeded", 700)

    pi3 = stripe.PaymentIntent.create(amount=900, currency="usd")
    assert pi3.status == "requires_payment_method"
    pi3 = stripe.PaymentIntent.modify(pi3.id, metadata={"a": "b"}, description="d")
    assert pi3.metadata["a"] == "b" and pi3.description == "d"
    assert stripe.PaymentIntent.cancel(pi3.id).status == "canceled"

    customer = stripe.Customer.modify(cus.id, email="new@example.com")
    assert customer.email == "new@example.com"
    found = stripe.Customer.search(query="email:'new@example.com'")
    assert [c.id for c in found.data] == [cus.id]
    deleted = stripe.Customer.delete(cus.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Customer.retrieve(cus.id)


async def test_async_httpx_and_aiohttp(server: StripeTestServer) -> None:
    for http_client in (stripe.HTTPXClient(), stripe.AIOHTTPClient()):
        client = stripe.StripeClient(
            "sk_test_async", base_addresses={"api": server.url}, http_client=http_client
        )
        try:
            cus = await client.v1.customers.create_async({"email": "a@example.com"})
            pi = await client.v1.payment_intents.create_async(
                {
                    "amount": 1000,
                    "currency": "usd",
                    "customer": cus.id,
                    "payment_method": "pm_card_visa",
                    "confirm": True,
                }
            )
            assert pi.status == "succeeded"
            got = await client.v1.payment_intents.retrieve_async(pi.id)
            assert got.id == pi.id
            with pytest.raises(stripe.CardError) as info:
                await client.v1.payment_intents.create_async(
                    {
                        "amount": 1000,
                        "currency": "usd",
                        "confirm": True,
                        "payment_method": "pm_card_chargeDeclined",
                    }
                )
            assert info.value.error.decline_code == "generic_decline"
        finally:
            await http_client.close_async()
    assert server.request_count == 8


@pytest.mark.parametrize(
    ("method", "decline_code", "message"),
    [
        ("4000000000000002", "generic_decline", "Your card was declined."),
        ("pm_card_chargeDeclined", "generic_decline", "Your card was declined."),
        ("4000000000009995", "insufficient_funds", "Your card has insufficient funds."),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
    ],
)
def test_declines(
    client: stripe.StripeClient, method: str, decline_code: str, message: str
) -> None:
    if method.startswith("pm_"):
        pm_id = method
    else:
        card = {"number": method, "exp_month": 1, "exp_year": 2040}
        pm_id = client.v1.payment_methods.create({"type": "card", "card": card}).id
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "payment_method": pm_id, "confirm": True}
        )
    err = info.value
    assert err.http_status == 402
    assert err.code == "card_declined"
    assert err.error is not None
    assert err.error.type == "card_error"
    assert err.error.decline_code == decline_code
    assert err.error.message == message
    assert err.error.doc_url == "https://stripe.com/docs/error-codes/card-declined"
    assert err.error.request_log_url is not None
    assert err.request_id in err.error.request_log_url
    body = err.json_body
    assert body is not None
    assert body["error"]["charge"].startswith("ch_")
    pi = body["error"]["payment_intent"]
    assert pi["status"] == "requires_payment_method"
    assert pi["last_payment_error"]["decline_code"] == decline_code
    charge = client.v1.charges.retrieve(body["error"]["charge"])
    assert (charge.status, charge.paid) == ("failed", False)


def test_error_shapes(client: stripe.StripeClient, server: StripeTestServer) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert missing.value.param == "id"
    assert missing.value.error is not None
    assert missing.value.error.doc_url == "https://stripe.com/docs/error-codes/resource-missing"
    assert "No such payment_intent: 'pi_doesnotexist'" in str(missing.value)

    with pytest.raises(stripe.InvalidRequestError) as param:
        client.v1.payment_intents.create({"currency": "usd"})  # type: ignore[typeddict-item]
    assert param.value.http_status == 400
    assert (param.value.code, param.value.param) == ("parameter_missing", "amount")
    assert param.value.error is not None
    assert param.value.error.message == "Missing required param: amount."

    pi = client.v1.payment_intents.create(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as state:
        client.v1.payment_intents.confirm(pi.id)
    assert state.value.http_status == 400
    assert state.value.code == "payment_intent_unexpected_state"
    assert state.value.json_body is not None
    assert state.value.json_body["error"]["payment_intent"]["status"] == "succeeded"

    bad = stripe.StripeClient(
        "sk_bogus_0123456789abcdef",
        base_addresses={"api": server.url},
        http_client=stripe.RequestsClient(),
    )
    with pytest.raises(stripe.AuthenticationError) as auth:
        bad.v1.customers.list()
    assert auth.value.http_status == 401
    assert "Invalid API Key provided" in str(auth.value)
    assert "sk_bogus_0123456789abcdef" not in (auth.value.http_body or "")


def test_idempotent_replay(client: stripe.StripeClient, server: StripeTestServer) -> None:
    opts: dict[str, Any] = {"idempotency_key": "order-7"}
    params = {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    first = client.v1.payment_intents.create(params, opts)  # type: ignore[arg-type]
    second = client.v1.payment_intents.create(params, opts)  # type: ignore[arg-type]
    assert second.id == first.id
    assert header(first.last_response.headers, "Idempotent-Replayed") is None
    assert header(second.last_response.headers, "Idempotent-Replayed") == "true"
    assert header(second.last_response.headers, "Idempotency-Key") == "order-7"
    assert second.last_response.request_id != first.last_response.request_id
    assert (
        header(second.last_response.headers, "Original-Request") == first.last_response.request_id
    )
    assert len(client.v1.payment_intents.list().data) == 1
    assert len(client.v1.charges.list().data) == 1
    succeeded = client.v1.events.list({"type": "payment_intent.succeeded"}).data
    assert len(succeeded) == 1
    assert succeeded[0].request is not None
    assert succeeded[0].request.idempotency_key == "order-7"

    with pytest.raises(stripe.IdempotencyError) as info:
        client.v1.payment_intents.create({**params, "amount": 1001}, opts)  # type: ignore[arg-type]
    assert info.value.http_status == 400
    assert len(client.v1.payment_intents.list().data) == 1


def test_list_pagination(client: stripe.StripeClient) -> None:
    created = [client.v1.customers.create({"email": f"{i}@example.com"}).id for i in range(25)]
    page = client.v1.customers.list({"limit": 10})
    assert page.has_more is True
    assert page.url == "/v1/customers"
    assert [c.id for c in page.data] == created[::-1][:10]
    seen = [c.id for c in page.auto_paging_iter()]
    assert seen == created[::-1]
    backwards = client.v1.customers.list({"limit": 7, "ending_before": created[0]})
    assert [c.id for c in backwards.auto_paging_iter()] == created[1:]
    searched = client.v1.customers.search({"query": "email:'3@example.com'"})
    assert [c.id for c in searched.data] == [created[3]]
    assert searched.next_page is None


def test_generic_resources_and_expand(client: stripe.StripeClient) -> None:
    product = client.v1.products.create({"name": "Gold", "metadata": {"tier": "1"}})
    assert product.id.startswith("prod_") and product.object == "product"
    price = client.v1.prices.create({"product": product.id, "unit_amount": 500, "currency": "usd"})
    got = client.v1.prices.retrieve(price.id, {"expand": ["product"]})
    assert got.product.name == "Gold"  # type: ignore[union-attr]
    assert [p.id for p in client.v1.products.list().data] == [product.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.retrieve("prod_missing000000000000000")


def test_v2_meter_event_and_event(client: stripe.StripeClient) -> None:
    meter_event = client.v2.billing.meter_events.create(
        {"event_name": "api_calls", "payload": {"stripe_customer_id": "cus_x", "value": "3"}},
        {"idempotency_key": "meter-1"},
    )
    assert meter_event.object == "v2.billing.meter_event"
    assert meter_event.payload["value"] == "3"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", meter_event.created)
    events = client.v2.core.events.list()
    assert len(events.data) == 1
    event = client.v2.core.events.retrieve(events.data[0].id)
    assert event.object == "v2.core.event"
    assert event.type == "v1.billing.meter.no_meter_found"
    assert event.reason is not None and event.reason.request is not None
    assert event.reason.request.idempotency_key == "meter-1"
    with pytest.raises(stripe.InvalidRequestError):
        client.v2.core.events.retrieve("evt_test_missing")
