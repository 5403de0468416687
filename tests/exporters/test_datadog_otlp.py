"""DatadogMappingSpanProcessor: Datadog names for the Agent's OTLP intake.
The end-to-end OTLP path is in test_datadog_agent.py."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from stripe_otel import semconv as sc
from stripe_otel.exporters.datadog import DatadogMappingSpanProcessor

CONFIRM = "POST /v1/payment_intents/{intent}/confirm"
DD_KEYS = (sc.DD_OPERATION_NAME, sc.DD_RESOURCE_NAME, sc.DD_SPAN_TYPE, sc.DD_MEASURED)


@pytest.fixture
def setup() -> tuple[TracerProvider, InMemorySpanExporter, DatadogMappingSpanProcessor]:
    provider = TracerProvider()
    processor = DatadogMappingSpanProcessor(max_live=3)
    provider.add_span_processor(processor)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory, processor


def dd(span: ReadableSpan) -> tuple[Any, ...]:
    attributes = span.attributes or {}
    return tuple(attributes.get(key) for key in DD_KEYS)


def test_names_our_spans_like_the_native_exporter(setup: Any) -> None:
    provider, memory, processor = setup
    tracer = provider.get_tracer(sc.INSTRUMENTATION_NAME)
    with (
        tracer.start_as_current_span("checkout", attributes={sc.STRIPE_TRANSACTION: "checkout"}),
        tracer.start_as_current_span(CONFIRM, kind=SpanKind.CLIENT),
    ):
        with tracer.start_as_current_span(sc.SPAN_ATTEMPT, attributes={sc.STRIPE_ATTEMPT: 1}):
            phase = {sc.STRIPE_PHASE: sc.PHASE_NETWORK}
            tracer.start_span(sc.SPAN_NETWORK, attributes=phase).end()
        tracer.start_span(sc.SPAN_SDK_DECODE, attributes={sc.STRIPE_PHASE: "sdk_decode"}).end()
    got = {s.name: dd(s) for s in memory.get_finished_spans()}
    assert got == {
        sc.SPAN_NETWORK: (sc.SPAN_NETWORK, CONFIRM, "custom", 1),
        sc.SPAN_ATTEMPT: (sc.SPAN_ATTEMPT, CONFIRM, "custom", 1),
        sc.SPAN_SDK_DECODE: (sc.SPAN_SDK_DECODE, CONFIRM, "custom", 1),
        CONFIRM: (sc.DD_OPNAME_REQUEST, CONFIRM, "http", None),
        "checkout": (sc.DD_OPNAME_TRANSACTION, "checkout", "custom", None),
    }
    assert processor.live_spans == 0, "cleaned at end"


def test_never_overwrites_and_leaves_other_scopes_alone(setup: Any) -> None:
    provider, memory, _ = setup
    ours = provider.get_tracer(sc.INSTRUMENTATION_NAME)
    theirs = provider.get_tracer("opentelemetry.instrumentation.requests")
    preset = {sc.DD_OPERATION_NAME: "mine", sc.DD_RESOURCE_NAME: "r", sc.DD_MEASURED: 0}
    with ours.start_as_current_span(CONFIRM, kind=SpanKind.CLIENT, attributes=preset):
        theirs.start_span("GET", kind=SpanKind.CLIENT).end()
        # A phase span of another scope (a DB write marked by our DB processor) is named,
        # under the resource of the operation it is in.
        theirs.start_span("INSERT", attributes={sc.STRIPE_PHASE: "db_write"}).end()
    got = {s.name: dd(s) for s in memory.get_finished_spans()}
    assert got[CONFIRM] == ("mine", "r", "http", 0)
    assert got["GET"] == (None, None, None, None)
    assert got["INSERT"] == (
        "opentelemetry.instrumentation.requests.internal", "r", "custom", 1,
    )  # fmt: skip


def test_live_spans_are_bounded(setup: Any) -> None:
    provider, _, processor = setup
    tracer = provider.get_tracer(sc.INSTRUMENTATION_NAME)
    leaked = [tracer.start_span(f"POST /v1/x{i}", kind=SpanKind.CLIENT) for i in range(5)]
    assert processor.live_spans == 3
    for span in leaked:
        span.end()
    assert processor.live_spans == 0


def test_fails_open(setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, memory, processor = setup

    def boom(*_: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(processor, "_on_start", boom)
    provider.get_tracer(sc.INSTRUMENTATION_NAME).start_span("x").end()
    assert [s.name for s in memory.get_finished_spans()] == ["x"]
