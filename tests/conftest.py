"""Shared fixtures: an in-memory OTel SDK, the instrumentor, the Stripe test server,
and clean stripe globals for every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from stripe_otel import StripeInstrumentor, semconv
from stripe_otel.testing import StripeTestServer

TEST_KEY = "sk_test_51TestKeyForStripeOtelSuite0000000000000000"


@dataclass
class Telemetry:
    provider: TracerProvider
    exporter: InMemorySpanExporter
    metrics: InMemoryMetricReader
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def operations(self) -> list[ReadableSpan]:
        """Our CLIENT spans, in the order they ended."""
        return [
            s
            for s in self.spans()
            if s.kind is SpanKind.CLIENT
            and s.instrumentation_scope is not None
            and s.instrumentation_scope.name == semconv.INSTRUMENTATION_NAME
        ]

    def children(self, parent: ReadableSpan, name: str | None = None) -> list[ReadableSpan]:
        assert parent.context is not None
        found = [
            s
            for s in self.spans()
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]
        found.sort(key=lambda s: s.start_time or 0)
        return [s for s in found if name is None or s.name == name]

    def attempts(self, operation: ReadableSpan) -> list[ReadableSpan]:
        return self.children(operation, semconv.SPAN_ATTEMPT)


@pytest.fixture(scope="session")
def _telemetry() -> Telemetry:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return Telemetry(provider, exporter, reader, MeterProvider(metric_readers=[reader]))


@pytest.fixture
def telemetry(_telemetry: Telemetry) -> Iterator[Telemetry]:
    _telemetry.exporter.clear()
    yield _telemetry
    _telemetry.exporter.clear()


@pytest.fixture
def instrument(telemetry: Telemetry) -> Iterator[Telemetry]:
    """stripe instrumented with the in-memory SDK for the test's duration."""
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.provider, meter_provider=telemetry.meter_provider
    )
    yield telemetry
    instrumentor.uninstrument()


@pytest.fixture(scope="session")
def _server() -> Iterator[StripeTestServer]:
    with StripeTestServer() as server:
        yield server


@pytest.fixture
def server(_server: StripeTestServer) -> StripeTestServer:
    _server.reset()
    return _server


@pytest.fixture
def stripe_globals(server: StripeTestServer, monkeypatch: pytest.MonkeyPatch) -> StripeTestServer:
    """Global-style stripe pointed at the test server, with fast retry backoff."""
    import stripe
    from stripe._http_client import HTTPClient

    monkeypatch.setattr(stripe, "api_key", TEST_KEY)
    monkeypatch.setattr(stripe, "api_base", server.url)
    monkeypatch.setattr(stripe, "default_http_client", None)
    monkeypatch.setattr(stripe, "max_network_retries", 2)
    # The SDK sleeps 0.5-5 s between retries; the suite needs only the order of events.
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.02)
    return server


def metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """The data points of metric *name* that *reader* (an InMemoryMetricReader) holds."""
    data = reader.get_metrics_data()
    return [
        point
        for rm in (data.resource_metrics if data else [])
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]
