"""OTLP to the Datadog Agent's OTLP intake (4318 HTTP), with Datadog's names on our spans.

The Agent maps ``operation.name`` / ``resource.name`` / ``span.type`` / ``_dd.measured``
when spans carry them: with this exporter chosen (``OTEL_TRACES_EXPORTER=datadog_otlp``)
stripe-otel puts them on its spans from the start (``STRIPE_OTEL_DATADOG_NAMES=auto``), and
``configure("datadog_otlp")`` also adds :class:`DatadogMappingSpanProcessor`. The Agent
must have its OTLP receiver enabled (``DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter

from stripe_otel.exporters._otlp import otlp_span_exporter, pin_http_headers
from stripe_otel.exporters._resilience import ResilientExporter
from stripe_otel.exporters.datadog._settings import check_otlp_endpoint

__all__ = [
    "DatadogOtlpMetricExporter",
    "DatadogOtlpSpanExporter",
    "agent_otlp_endpoint",
    "datadog_otlp_exporters",
]


@dataclass(frozen=True)
class _AgentTarget:
    endpoint: str
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict)
    compression: str = "gzip"
    insecure: bool = True


def agent_otlp_endpoint(
    endpoint: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The Agent's OTLP/HTTP base URL: argument > ``OTEL_EXPORTER_OTLP_ENDPOINT`` >
    ``http://$DD_AGENT_HOST:4318`` > ``http://localhost:4318``."""
    env = os.environ if environ is None else environ
    base = endpoint or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not base:
        base = f"http://{env.get('DD_AGENT_HOST') or 'localhost'}:4318"
    return base.rstrip("/")


class DatadogOtlpSpanExporter(ResilientExporter):
    """OTLP/HTTP spans to the Datadog Agent, with a bounded retry backlog. No arguments
    needed (the ``datadog_otlp`` entry point)."""

    def __init__(
        self,
        endpoint: str | None = None,
        timeout: float = 10.0,
        *,
        max_backlog_spans: int = 20_000,
        max_backlog_bytes: int = 32 * 1024 * 1024,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        target = _AgentTarget(f"{check_otlp_endpoint(endpoint)}/v1/traces", timeout)
        super().__init__(
            otlp_span_exporter(target, "http/protobuf"),
            "datadog_otlp",
            max_backlog_spans=max_backlog_spans,
            max_backlog_bytes=max_backlog_bytes,
            meter_provider=meter_provider,
        )


def DatadogOtlpMetricExporter(  # a factory named like the class it stands in for
    endpoint: str | None = None, timeout: float = 10.0
) -> MetricExporter:
    """OTLP/HTTP metrics to the Agent (the ``datadog_otlp`` metrics entry point)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter,
    )

    exporter = OTLPMetricExporter(
        endpoint=f"{check_otlp_endpoint(endpoint)}/v1/metrics", timeout=timeout
    )
    pin_http_headers(getattr(exporter, "_client", None), {})
    return exporter


def datadog_otlp_exporters(
    endpoint: str | None = None, timeout: float = 10.0, **span_options: Any
) -> tuple[DatadogOtlpSpanExporter, MetricExporter]:
    """The span exporter and an OTLP/HTTP metric exporter, both to the Agent."""
    metrics = DatadogOtlpMetricExporter(endpoint, timeout)
    return DatadogOtlpSpanExporter(endpoint, timeout, **span_options), metrics
