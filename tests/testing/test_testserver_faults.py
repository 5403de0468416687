"""Faults and delays, observed through the stripe SDK."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest
import stripe

from stripe_otel.testing import Fault, StripeTestServer

pytestmark = pytest.mark.integration


def header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def client_for(
    server: StripeTestServer, kind: str = "requests", retries: int = 0
) -> stripe.StripeClient:
    http_client: stripe.HTTPClient
    if kind == "requests":
        http_client = stripe.RequestsClient()
    elif kind == "httpx":
        http_client = stripe.HTTPXClient(allow_sync_methods=True)
    else:
        http_client = stripe.UrllibClient()
    return stripe.StripeClient(
        "sk_test_faults",
        base_addresses={"api": server.url},
        http_client=http_client,
        max_network_retries=retries,
    )


@pytest.mark.usefixtures("no_retry_sleep")
def test_500_retried_then_succeeds_once(server: StripeTestServer) -> None:
    server.add_fault(Fault(status=500, path_regex=r"^/v1/customers$", method="POST"))
    client = client_for(server, retries=2)
    cus = client.v1.customers.create({"email": "x@example.com"})
    assert server.request_count == 2
    first, second = server.requests
    assert (first.status, second.status) == (500, 200)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert [c.id for c in client.v1.customers.list().data] == [cus.id]


@pytest.mark.usefixtures("no_retry_sleep")
def test_global_style_retries_by_default(global_stripe: StripeTestServer) -> None:
    server = global_stripe
    server.add_fault(Fault(status=503, count=2, should_retry=True))
    cus = stripe.Customer.create()
    assert server.request_count == 3
    assert stripe.Customer.retrieve(cus.id).id == cus.id


def test_500_without_retries_raises_api_error(server: StripeTestServer) -> None:
    server.add_fault(Fault(status=500, message="boom", code="internal"))
    with pytest.raises(stripe.APIError) as info:
        client_for(server).v1.customers.create()
    assert info.value.http_status == 500
    assert info.value.error is not None
    assert info.value.error.code == "internal"
    assert "boom" in str(info.value)
    assert server.requests[0].request_id == info.value.request_id


@pytest.mark.parametrize("kind", ["requests", "httpx", "urllib"])
@pytest.mark.parametrize("action", ["reset", "reset_mid_body"])
def test_connection_faults(server: StripeTestServer, kind: str, action: str) -> None:
    client = client_for(server, kind)
    client.v1.customers.list()  # warm a keep-alive connection first
    server.add_fault(Fault(action=action))
    # UrllibClient wraps only URLError: a reset while reading the response escapes raw.
    expected: tuple[type[BaseException], ...] = (stripe.APIConnectionError,)
    if kind == "urllib":
        expected = (stripe.APIConnectionError, ConnectionError, http.client.HTTPException)
    with pytest.raises(expected):
        client.v1.customers.create()
    assert client.v1.customers.list().data == []  # the fault changed no state
    assert server.request_count == 3


def test_rate_limit_not_retried_when_told(server: StripeTestServer) -> None:
    server.add_fault(Fault(status=429, error_type="invalid_request_error", should_retry=False))
    client = client_for(server, retries=3)
    with pytest.raises(stripe.RateLimitError) as info:
        client.v1.customers.create()
    assert server.request_count == 1
    headers = info.value.headers or {}
    assert header(headers, "Stripe-Should-Retry") == "false"
    assert header(headers, "Stripe-Rate-Limited-Reason") == "global-rate"
    assert info.value.error is not None
    assert info.value.error.code == "rate_limit"


def test_body_faults(server: StripeTestServer) -> None:
    client = client_for(server)
    server.add_fault(Fault(action="truncated_json"))
    with pytest.raises(stripe.APIError, match="Invalid response body"):
        client.v1.customers.list()
    server.add_fault(Fault(action="non_json"))
    with pytest.raises(stripe.APIError, match="502 Bad Gateway"):
        client.v1.customers.list()
    server.add_fault(Fault(action="huge", size_bytes=200_000, headers={"X-Test": "1"}))
    page = client.v1.customers.list()
    assert len(page.data) > 1000
    assert header(page.last_response.headers, "X-Test") == "1"
    assert len(page.last_response.body) == 200_000
    json.loads(page.last_response.body)


def test_fault_matching_and_count(server: StripeTestServer) -> None:
    client = client_for(server)
    server.add_fault(
        Fault(
            status=402,
            error_type="card_error",
            code="card_declined",
            decline_code="do_not_honor",
            path_regex="payment_intents",
            count=2,
        )
    )
    assert client.v1.customers.list().data == []  # not matched
    for _ in range(2):
        with pytest.raises(stripe.CardError) as info:
            client.v1.payment_intents.list()
        assert info.value.error is not None
        assert info.value.error.decline_code == "do_not_honor"
    assert client.v1.payment_intents.list().data == []
    assert server.pending_faults == 0


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault action"):
        Fault(action="explode")
    with pytest.raises(ValueError):
        Fault(count=0)


def test_delay_fault_and_rules(server: StripeTestServer) -> None:
    client = client_for(server)
    client.v1.customers.list()
    server.add_fault(Fault(action="delay", delay_ms=120))
    t0 = time.perf_counter()
    client.v1.customers.list()
    assert time.perf_counter() - t0 >= 0.12

    server.set_delay(150, path_regex=r"^/v1/payment_intents")
    t0 = time.perf_counter()
    client.v1.customers.list()
    assert time.perf_counter() - t0 < 0.1
    t0 = time.perf_counter()
    client.v1.payment_intents.list()
    assert time.perf_counter() - t0 >= 0.15

    server.set_delay(0)  # most recent matching rule wins
    t0 = time.perf_counter()
    client.v1.payment_intents.list()
    assert time.perf_counter() - t0 < 0.1


def test_delay_does_not_block_other_connections(server: StripeTestServer) -> None:
    server.set_delay(400, path_regex="payment_intents")
    slow_done: list[float] = []

    def slow() -> None:
        client_for(server).v1.payment_intents.list()
        slow_done.append(time.perf_counter())

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.05)
    fast_client = client_for(server, "httpx")
    fast_client.v1.customers.list()
    fast_done = time.perf_counter()
    t.join()
    assert slow_done and fast_done < slow_done[0]
