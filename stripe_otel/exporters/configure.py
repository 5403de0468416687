"""``configure()``: one call to send traces (and metrics) to Honeycomb or Datadog.

For code that sets up providers by hand; under ``opentelemetry-instrument`` use
``OTEL_TRACES_EXPORTER=honeycomb`` / ``datadog`` / ``datadog_otlp`` instead (entry points).

    from stripe_otel.exporters.configure import configure
    configure("honeycomb")                      # HONEYCOMB_API_KEY etc. from the environment
    configure("datadog", service="checkout")    # the Agent's trace API at DD_TRACE_AGENT_URL
    configure("datadog_otlp")                   # the Agent's OTLP intake, with Datadog names

Spans go through a BatchSpanProcessor (bounded queue: spans are dropped, and counted by the
SDK, rather than ever blocking a payment) to the vendor exporter, which keeps a bounded
backlog across short outages (:mod:`stripe_otel.exporters._resilience`).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from stripe_otel import _shutdown
from stripe_otel.config import ConfigError, setting

Vendor = Literal["honeycomb", "datadog", "datadog_otlp"]
VENDORS: tuple[str, ...] = ("honeycomb", "datadog", "datadog_otlp")
#: Options that only the span exporters take (the backlog sits in front of spans only).
_SPAN_ONLY = frozenset({"max_backlog_spans", "max_backlog_bytes", "meter_provider"})
_logger = logging.getLogger("stripe_otel.exporters")


def _metric_reader(build: Any, options: dict[str, Any]) -> MetricReader | None:
    """Metrics are a bonus: a setting they lack (a metrics dataset) must not cost traces.
    A setting given a wrong value still fails, like any other."""
    from stripe_otel.exporters._honeycomb_settings import MissingSettingError  # noqa: PLC0415

    try:
        exporter = build(**{k: v for k, v in options.items() if k not in _SPAN_ONLY})
    except MissingSettingError as exc:
        _logger.warning("stripe-otel: metrics not exported: %s", exc)
        return None
    return PeriodicExportingMetricReader(exporter)


def _exporter_and_extras(
    vendor: str, options: dict[str, Any]
) -> tuple[SpanExporter, list[SpanProcessor], MetricReader | None]:
    # Imported here so that each vendor's dependencies are only needed when it is chosen.
    if vendor == "honeycomb":
        from stripe_otel.exporters import honeycomb  # noqa: PLC0415

        # Spans first: a reader started before a span setting fails would be left running.
        exporter = honeycomb.honeycomb_exporter(**options)
        try:
            reader = _metric_reader(honeycomb.honeycomb_metric_exporter, options)
        except BaseException:
            exporter.shutdown()
            raise
        return exporter, [], reader
    if vendor == "datadog":
        from stripe_otel.exporters.datadog import DatadogAgentExporter  # noqa: PLC0415
        from stripe_otel.exporters.datadog._settings import agent_settings  # noqa: PLC0415

        # Checked here so that a bad Agent address fails now, naming its variable.
        agent_settings(options.get("agent_url"), options.get("timeout", 2.0))

        # The Agent's trace API takes no metrics: Datadog computes trace metrics from the
        # spans (top-level and _dd.measured ones).
        return DatadogAgentExporter(**options), [], None
    if vendor == "datadog_otlp":
        from stripe_otel.exporters.datadog import DatadogMappingSpanProcessor  # noqa: PLC0415
        from stripe_otel.exporters.datadog._settings import (  # noqa: PLC0415
            check_otlp_endpoint,
            check_timeout,
        )
        from stripe_otel.exporters.datadog_otlp import datadog_otlp_exporters  # noqa: PLC0415

        check_otlp_endpoint(options.get("endpoint"))
        check_timeout(options.get("timeout", 10.0))

        span_exporter, metric_exporter = datadog_otlp_exporters(**options)
        reader = PeriodicExportingMetricReader(metric_exporter)
        return span_exporter, [DatadogMappingSpanProcessor()], reader
    raise ConfigError(f"stripe-otel: unknown vendor {vendor!r}; choose one of {', '.join(VENDORS)}")


def configure(
    vendor: Vendor,
    *,
    service: str | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    set_global: bool = True,
    max_queue_size: int = 4096,
    **options: Any,
) -> tuple[TracerProvider, MeterProvider | None]:
    """Send spans (and, where the vendor takes OTLP metrics, metrics) to *vendor*.

    *options* go to the vendor's exporter (API key, endpoint, agent URL...); anything not
    given comes from the environment. Returns the providers; with *set_global* they become
    the global ones (as ``opentelemetry-instrument`` would make them).
    """
    if vendor not in VENDORS:
        raise ConfigError(
            f"stripe-otel: unknown vendor {vendor!r}; choose one of {', '.join(VENDORS)}"
        )
    name = service or os.environ.get("OTEL_SERVICE_NAME") or os.environ.get("DD_SERVICE")
    resource = Resource.create({"service.name": name} if name else {})
    span_exporter, processors, reader = _exporter_and_extras(vendor, dict(options))
    if tracer_provider is None:
        tracer_provider = TracerProvider(resource=resource)
    for processor in processors:
        tracer_provider.add_span_processor(processor)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(span_exporter, max_queue_size=max_queue_size)
    )
    if meter_provider is None and reader is not None:
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        if meter_provider is not None:
            metrics.set_meter_provider(meter_provider)
    if setting("flush_on_sigterm"):  # SIGTERM's default disposition skips atexit flushes
        _shutdown.install(tracer_provider, meter_provider)
    return tracer_provider, meter_provider
