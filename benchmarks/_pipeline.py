"""A full stripe-otel pipeline for the memory and outage benchmarks: the instrumentation,
a BatchSpanProcessor per vendor exporter, a count of the spans produced, and the two
places spans can be given up on: the SDK's queue and our exporters' backlog."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.environment_variables import OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from stripe_otel import StripeInstrumentor, semconv
from stripe_otel.exporters._resilience import ResilientExporter, dropped_counts
from stripe_otel.exporters.datadog import DatadogAgentExporter
from stripe_otel.exporters.honeycomb import honeycomb_exporter


def quiet_sdk_logs() -> None:
    """The SDK logs every failed export attempt; our exporter's once-a-minute summary stays."""
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)


class CountingProcessor(SpanProcessor):
    """Counts the spans that ended (sampled ones): what the exporters should account for."""

    def __init__(self) -> None:
        self.ended = 0
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self.ended += 1


@dataclass
class Pipeline:
    provider: TracerProvider
    reader: InMemoryMetricReader
    counter: CountingProcessor
    exporters: dict[str, SpanExporter]
    drops_before: dict[tuple[str, str], int] = field(default_factory=dict)

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], float]]:
        data = self.reader.get_metrics_data()
        points: list[tuple[dict[str, Any], float]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points += [
                            (dict(p.attributes or {}), float(getattr(p, "value", 0)))
                            for p in metric.data.data_points
                        ]
        return points

    def dropped(self) -> dict[str, int]:
        """Our exporters' drops since the pipeline was built, "exporter/reason" -> spans."""
        now = dropped_counts()
        return {
            f"{name}/{reason}": count - self.drops_before.get((name, reason), 0)
            for (name, reason), count in now.items()
            if count - self.drops_before.get((name, reason), 0)
        }

    def dropped_metric(self) -> int:
        """The same drops, as the stripe_otel.exporter.dropped_spans metric counted them."""
        return int(
            sum(
                value
                for attrs, value in self.metric_points(semconv.METRIC_EXPORTER_DROPPED)
                if attrs.get(semconv.STRIPE_OTEL_EXPORTER) in self.exporters
            )
        )

    def sdk_queue_drops(self) -> int:
        """Spans the BatchSpanProcessors' queues turned away (counted by the SDK)."""
        return int(
            sum(
                value
                for attrs, value in self.metric_points(OTEL_SDK_PROCESSOR_SPAN_PROCESSED)
                if attrs.get(ERROR_TYPE)
            )
        )

    def backlog(self) -> dict[str, int]:
        """Spans each exporter holds: its retry backlog (and, for Datadog, traces waiting
        for their root)."""
        held: dict[str, int] = {}
        for name, exporter in self.exporters.items():
            if isinstance(exporter, DatadogAgentExporter):
                # The backlog sits in its resilience layer (no public property for it).
                held[name] = exporter._resilient.backlog_spans + exporter.held_spans
            elif isinstance(exporter, ResilientExporter):
                held[name] = exporter.backlog_spans
        return held


def make_exporter(
    vendor: str,
    url: str,
    meter_provider: MeterProvider,
    timeout: float | None = None,
    **bounds: Any,
) -> SpanExporter:
    """Our vendor exporter sending to *url*; *timeout* None: the exporter's default."""
    if vendor == "honeycomb":
        return honeycomb_exporter(
            endpoint=url,
            protocol="http/protobuf",
            api_key="bench",
            timeout=timeout,
            meter_provider=meter_provider,
            **bounds,
        )
    # DatadogAgentExporter takes no backlog bounds: its are the resilience layer's defaults.
    if timeout is None:
        return DatadogAgentExporter(agent_url=url, meter_provider=meter_provider)
    return DatadogAgentExporter(agent_url=url, timeout=timeout, meter_provider=meter_provider)


@contextmanager
def pipeline(
    targets: dict[str, str],
    max_queue_size: int = 4096,
    timeout: float | None = None,
    **bounds: Any,
) -> Iterator[Pipeline]:
    """Instrument stripe (full: phases + metrics) exporting to each vendor -> URL, through
    a BatchSpanProcessor with configure()'s queue size."""
    # The SDK counts what its batch processor's queue turns away only when asked to; read
    # when each BatchSpanProcessor is built.
    os.environ.setdefault(OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED, "true")
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    provider = TracerProvider()
    counter = CountingProcessor()
    provider.add_span_processor(counter)
    exporters: dict[str, SpanExporter] = {}
    for vendor, url in targets.items():
        exporter = make_exporter(vendor, url, meter_provider, timeout, **bounds)
        exporters[vendor] = exporter
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter, max_queue_size=max_queue_size, meter_provider=meter_provider
            )
        )
    built = Pipeline(provider, reader, counter, exporters, dropped_counts())
    StripeInstrumentor().instrument(tracer_provider=provider, meter_provider=meter_provider)
    try:
        yield built
    finally:
        StripeInstrumentor().uninstrument()
