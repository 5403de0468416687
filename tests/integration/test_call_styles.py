"""Every call style x sync/async x transport produces the same span contract."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from stripe_otel import semconv as sc
from tests.conftest import Telemetry
from tests.integration._stripe_calls import (
    ASYNC_TRANSPORTS,
    EFFECTIVE_NAME,
    STYLES,
    SYNC_TRANSPORTS,
    Facts,
    create_and_confirm,
    create_and_confirm_async,
)

pytestmark = pytest.mark.integration

NAMES = ["POST /v1/payment_intents", "POST /v1/payment_intents/{intent}/confirm"]
OPERATIONS = ["PaymentIntent.create", "PaymentIntent.confirm"]


def assert_contract(
    telemetry: Telemetry, port: int, transport: str, objects: tuple[Facts, Facts]
) -> None:
    ops = telemetry.operations()
    assert [op.name for op in ops] == NAMES
    for op, obj, operation in zip(ops, objects, OPERATIONS, strict=True):
        attrs = op.attributes or {}
        assert op.kind is SpanKind.CLIENT
        assert op.status.status_code is StatusCode.UNSET
        assert attrs[sc.HTTP_REQUEST_METHOD] == "POST"
        assert attrs[sc.URL_TEMPLATE] == op.name.split(" ", 1)[1]
        assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1"
        assert attrs[sc.SERVER_PORT] == port
        assert attrs[sc.HTTP_RESPONSE_STATUS_CODE] == 200
        assert attrs[sc.STRIPE_OPERATION] == operation
        assert attrs[sc.STRIPE_API_MODE] == "v1"
        assert attrs[sc.STRIPE_LIVEMODE] is False
        assert attrs[sc.STRIPE_HTTP_CLIENT] == EFFECTIVE_NAME[transport]
        assert attrs[sc.STRIPE_OBJECT_ID] == obj.id
        assert attrs[sc.STRIPE_REQUEST_ID] == obj.request_id
        assert attrs[sc.STRIPE_IDEMPOTENCY_KEY] == obj.idempotency_key
        assert attrs[sc.STRIPE_API_VERSION] == obj.api_version
        assert attrs[sc.STRIPE_NUM_RETRIES] == 0
        assert obj.id not in op.name
        [attempt] = telemetry.attempts(op)
        expected = {
            sc.STRIPE_ATTEMPT: 1,
            sc.HTTP_RESPONSE_STATUS_CODE: 200,
            sc.STRIPE_REQUEST_ID: obj.request_id,
            sc.STRIPE_RETRY_WILL_RETRY: False,
        }
        if transport == "aiohttp":
            # aiohttp is not timed: it says so rather than inventing phases.
            expected[sc.STRIPE_PHASE_AVAILABLE] = False
            assert attrs[sc.STRIPE_PHASE_AVAILABLE] is False
        assert attempt.attributes == expected
        assert op.start_time <= attempt.start_time <= attempt.end_time <= op.end_time  # type: ignore[operator]
    # The two operations are siblings (no nesting), each a root here.
    assert all(op.parent is None for op in ops)


@pytest.mark.parametrize("transport", SYNC_TRANSPORTS)
@pytest.mark.parametrize("style", STYLES)
def test_sync(style: str, transport: str, instrument: Telemetry, stripe_globals: Any) -> None:
    objects = create_and_confirm(style, stripe_globals.url, transport)
    assert objects[1].status == "succeeded"
    assert_contract(instrument, stripe_globals.port, transport, objects)


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
@pytest.mark.parametrize("style", STYLES)
async def test_async(
    style: str, transport: str, instrument: Telemetry, stripe_globals: Any
) -> None:
    if style == "client" and transport == "default":
        transport = "httpx"  # StripeClient has no "default" distinct from HTTPXClient
    objects = await create_and_confirm_async(style, stripe_globals.url, transport)
    assert objects[1].status == "succeeded"
    assert_contract(instrument, stripe_globals.port, transport, objects)


def _ops_named(telemetry: Telemetry, name: str) -> list[ReadableSpan]:
    return [op for op in telemetry.operations() if op.name == name]


def test_auto_pagination_makes_one_span_per_page(
    instrument: Telemetry, stripe_globals: Any
) -> None:
    import stripe

    created = [stripe.Customer.create(description=f"c{i}") for i in range(5)]
    seen = [c.id for c in stripe.Customer.list(limit=2).auto_paging_iter()]
    assert sorted(seen) == sorted(c.id for c in created)
    pages = _ops_named(instrument, "GET /v1/customers")
    assert len(pages) == 3
    assert {op.attributes[sc.STRIPE_OPERATION] for op in pages} == {"Customer.list"}
    assert all(sc.STRIPE_OBJECT_ID not in op.attributes for op in pages)


def test_v2_calls(instrument: Telemetry, stripe_globals: Any) -> None:
    from tests.integration._stripe_calls import stripe_client

    client = stripe_client(stripe_globals.url, "requests")
    client.v2.billing.meter_events.create(
        params={"event_name": "api_call", "payload": {"stripe_customer_id": "cus_1", "value": "1"}}
    )
    [op] = instrument.operations()
    assert op.name == "POST /v2/billing/meter_events"
    assert op.attributes[sc.STRIPE_API_MODE] == "v2"
    assert op.attributes[sc.STRIPE_OPERATION] == "v2.billing.MeterEvent.create"
    assert op.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 200


def test_raw_request_is_one_operation(instrument: Telemetry, stripe_globals: Any) -> None:
    from tests.integration._stripe_calls import stripe_client

    client = stripe_client(stripe_globals.url, "requests")
    response = client.raw_request("post", "/v1/customers", description="raw")
    [op] = instrument.operations()
    assert op.name == "POST /v1/customers"
    assert op.attributes[sc.STRIPE_REQUEST_ID] == response.headers["Request-Id"]
    assert len(instrument.attempts(op)) == 1


async def test_raw_request_async(instrument: Telemetry, stripe_globals: Any) -> None:
    from tests.integration._stripe_calls import stripe_client

    client = stripe_client(stripe_globals.url, "httpx")
    await client.raw_request_async("get", "/v1/customers")
    [op] = instrument.operations()
    assert op.name == "GET /v1/customers"
    assert op.attributes[sc.STRIPE_HTTP_CLIENT] == "httpx"


def test_streaming_request(instrument: Telemetry, stripe_globals: Any) -> None:
    import stripe

    requestor = stripe._api_requestor._APIRequestor._global_instance()
    response = requestor.request_stream("get", "/v1/customers", {}, base_address="api")
    body = response.io.read()
    assert body.startswith(b"{")
    [op] = instrument.operations()
    assert op.attributes[sc.STRIPE_STREAMING] is True
    assert op.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 200


def test_connect_account_recorded(instrument: Telemetry, stripe_globals: Any) -> None:
    import stripe

    stripe.Customer.create(description="connected", stripe_account="acct_1ConnectedAcct01")
    [op] = instrument.operations()
    assert op.attributes[sc.STRIPE_ACCOUNT] == "acct_1ConnectedAcct01"
