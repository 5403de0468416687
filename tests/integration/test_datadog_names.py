"""With Datadog names on (as under ddtrace's OTel bridge), every span says its Datadog
operation and resource, and phases are measured, so trace metrics split by endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

import stripe_otel
from stripe_otel import StripeInstrumentor
from stripe_otel import semconv as sc
from tests.conftest import Telemetry

pytestmark = pytest.mark.integration


@pytest.fixture
def dd_named(telemetry: Telemetry) -> Iterator[Telemetry]:
    StripeInstrumentor().instrument(tracer_provider=telemetry.provider, datadog_names=True)
    yield telemetry
    StripeInstrumentor().uninstrument()


def test_every_span_carries_datadog_names(dd_named: Telemetry, stripe_globals: Any) -> None:
    with stripe_otel.transaction("checkout"):
        stripe.Customer.create(description="dd")
    spans = {s.name: s for s in dd_named.spans()}
    op = spans["POST /v1/customers"]
    assert op.attributes[sc.DD_OPERATION_NAME] == "stripe.request"
    for name in ("stripe.attempt", "stripe.network", "stripe.api_processing", "stripe.sdk_decode"):
        attrs = spans[name].attributes
        assert attrs[sc.DD_OPERATION_NAME] == name
        assert attrs[sc.DD_RESOURCE_NAME] == "POST /v1/customers"
        assert attrs[sc.DD_MEASURED] == 1
    tx = spans["checkout"].attributes
    assert tx[sc.DD_OPERATION_NAME] == "stripe.transaction"
    assert tx[sc.DD_RESOURCE_NAME] == "checkout"


def test_auto_is_off_with_the_otel_sdk(instrument: Telemetry, stripe_globals: Any) -> None:
    stripe.Customer.create(description="plain")
    assert all(sc.DD_OPERATION_NAME not in (s.attributes or {}) for s in instrument.spans())
