"""With opentelemetry-instrumentation-httpx / -requests active: one CLIENT span per call
and no traceparent sent to Stripe by default; their spans as children when asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.trace import SpanKind

from stripe_otel import StripeInstrumentor
from stripe_otel import semconv as sc
from tests.conftest import Telemetry
from tests.integration._stripe_calls import use_global_transport

pytestmark = pytest.mark.integration


@pytest.fixture
def http_instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    HTTPXClientInstrumentor().instrument(tracer_provider=telemetry.provider)
    RequestsInstrumentor().instrument(tracer_provider=telemetry.provider)
    yield telemetry
    HTTPXClientInstrumentor().uninstrument()
    RequestsInstrumentor().uninstrument()


def _client_spans(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]


@pytest.mark.parametrize("transport", ["requests", "httpx"])
def test_http_spans_suppressed_by_default(
    transport: str, http_instrumented: Telemetry, stripe_globals: Any
) -> None:
    StripeInstrumentor().instrument(tracer_provider=http_instrumented.provider)
    try:
        use_global_transport(transport)
        stripe.Customer.create(description="one span")
    finally:
        StripeInstrumentor().uninstrument()
    [client_span] = _client_spans(http_instrumented)
    assert client_span.instrumentation_scope.name == sc.INSTRUMENTATION_NAME
    [request] = stripe_globals.requests
    assert "traceparent" not in request.headers


@pytest.mark.parametrize("transport", ["requests", "httpx"])
def test_http_spans_kept_as_children_when_asked(
    transport: str, http_instrumented: Telemetry, stripe_globals: Any
) -> None:
    StripeInstrumentor().instrument(
        tracer_provider=http_instrumented.provider, suppress_http_instrumentation=False
    )
    try:
        use_global_transport(transport)
        stripe.Customer.create(description="nested")
    finally:
        StripeInstrumentor().uninstrument()
    [op] = http_instrumented.operations()
    [attempt] = http_instrumented.attempts(op)
    [http_span] = [s for s in http_instrumented.children(attempt) if s.kind is SpanKind.CLIENT]
    assert http_span.kind is SpanKind.CLIENT
    assert http_span.instrumentation_scope.name != sc.INSTRUMENTATION_NAME
    [request] = stripe_globals.requests
    assert request.headers["traceparent"].split("-")[1] == format(op.context.trace_id, "032x")


def test_without_us_http_instrumentation_is_untouched(
    http_instrumented: Telemetry, stripe_globals: Any
) -> None:
    # Control: the HTTP instrumentation really is active, so the tests above could fail.
    use_global_transport("requests")
    stripe.Customer.create(description="bare")
    [client_span] = _client_spans(http_instrumented)
    assert client_span.instrumentation_scope.name != sc.INSTRUMENTATION_NAME
