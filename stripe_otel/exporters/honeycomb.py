"""Export spans (and metrics) to Honeycomb over OTLP, without losing them to a short outage.

>>> from stripe_otel.exporters.honeycomb import honeycomb_exporter   # doctest: +SKIP
>>> provider.add_span_processor(BatchSpanProcessor(honeycomb_exporter(api_key=KEY)))

or, under ``opentelemetry-instrument``, ``OTEL_TRACES_EXPORTER=honeycomb`` with
``HONEYCOMB_API_KEY`` set (see :mod:`._honeycomb_settings` for every variable).

The SDK's OTLP exporter does the wire work and its own retries (429/502/503/504 with
backoff and ``Retry-After``, all within the timeout); :class:`ResilientExporter` around it
keeps what still failed in a bounded backlog, splits batches the backend found too large
and drops (and counts) batches it rejected for good. Honeycomb limits string fields to
64 KB and events to 1 MB, so oversized attribute values are cut before sending.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.metrics.view import Aggregation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from stripe_otel._guard import report
from stripe_otel.config import ConfigError
from stripe_otel.exporters._honeycomb_settings import (
    EU_ENDPOINT,
    US_ENDPOINT,
    HoneycombSettings,
    honeycomb_settings,
    is_classic_key,
)
from stripe_otel.exporters._otlp import (
    grpc_compression,
    http_compression,
    otlp_span_exporter,
    pin_http_headers,
)
from stripe_otel.exporters._resilience import ResilientExporter
from stripe_otel.exporters._size_limits import fit_span

__all__ = [
    "EU_ENDPOINT",
    "US_ENDPOINT",
    "HoneycombMetricExporter",
    "HoneycombSettings",
    "HoneycombSpanExporter",
    "fit_span",
    "honeycomb_exporter",
    "honeycomb_metric_exporter",
    "honeycomb_settings",
    "is_classic_key",
]

_logger = logging.getLogger("stripe_otel.exporters")
_NAME: Final = "honeycomb"


def _span_exporter(settings: HoneycombSettings) -> SpanExporter:
    if settings.signal != "traces":
        raise ConfigError("HoneycombSpanExporter needs settings resolved for signal='traces'")
    return otlp_span_exporter(settings, settings.protocol)


class HoneycombSpanExporter(ResilientExporter):
    """OTLP to Honeycomb with a bounded retry backlog. With no arguments: from the env.

    It is the ``honeycomb`` entry point of ``opentelemetry_traces_exporter``.
    """

    def __init__(
        self,
        settings: HoneycombSettings | None = None,
        *,
        max_backlog_spans: int = 20_000,
        max_backlog_bytes: int = 32 * 1024 * 1024,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        resolved = settings if settings is not None else honeycomb_settings()
        super().__init__(
            _span_exporter(resolved),
            _NAME,
            max_backlog_spans=max_backlog_spans,
            max_backlog_bytes=max_backlog_bytes,
            meter_provider=meter_provider,
        )
        self.settings = resolved
        _logger.debug("stripe-otel: exporting spans to Honeycomb with %r", resolved)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            spans = [fit_span(span) for span in spans]
        except Exception as exc:  # noqa: BLE001 - send as is rather than not at all
            report(f"{self.name}.fit_span", exc)
        return super().export(spans)

    def __repr__(self) -> str:
        return f"HoneycombSpanExporter({self.settings!r})"


def honeycomb_exporter(
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    api_key: str | None = None,
    dataset: str | None = None,
    headers: Mapping[str, str] | None = None,
    compression: str | None = None,
    timeout: float | str | None = None,
    region: str | None = None,
    max_backlog_spans: int = 20_000,
    max_backlog_bytes: int = 32 * 1024 * 1024,
    meter_provider: MeterProvider | None = None,
    environ: Mapping[str, str] | None = None,
) -> HoneycombSpanExporter:
    """A span exporter to Honeycomb; arguments beat the environment (see the module doc)."""
    settings = honeycomb_settings(
        endpoint=endpoint,
        protocol=protocol,
        api_key=api_key,
        dataset=dataset,
        headers=headers,
        compression=compression,
        timeout=timeout,
        region=region,
        environ=environ,
    )
    return HoneycombSpanExporter(
        settings,
        max_backlog_spans=max_backlog_spans,
        max_backlog_bytes=max_backlog_bytes,
        meter_provider=meter_provider,
    )


# --- metrics ------------------------------------------------------------------------------
def _metric_exporter(
    settings: HoneycombSettings,
    temporality: dict[type, Any] | None,
    aggregation: dict[type, Aggregation] | None,
) -> MetricExporter:
    if settings.signal != "metrics":
        raise ConfigError("HoneycombMetricExporter needs settings resolved for signal='metrics'")
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # noqa: PLC0415
            OTLPMetricExporter as GRPCMetricExporter,
        )

        return GRPCMetricExporter(
            endpoint=settings.endpoint,
            insecure=settings.insecure,
            headers=dict(settings.headers) or None,
            timeout=settings.timeout,
            compression=grpc_compression(settings.compression),
            preferred_temporality=temporality,
            preferred_aggregation=aggregation,
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter as HTTPMetricExporter,
    )

    exporter = HTTPMetricExporter(
        endpoint=settings.endpoint,
        headers=dict(settings.headers),
        timeout=settings.timeout,
        compression=http_compression(settings.compression),
        preferred_temporality=temporality,
        preferred_aggregation=aggregation,
    )
    pin_http_headers(getattr(exporter, "_client", None), settings.headers)
    return exporter


class HoneycombMetricExporter(MetricExporter):
    """OTLP metrics to Honeycomb. With no arguments: from the environment.

    It is the ``honeycomb`` entry point of ``opentelemetry_metrics_exporter``.
    """

    def __init__(
        self,
        settings: HoneycombSettings | None = None,
        *,
        preferred_temporality: dict[type, Any] | None = None,
        preferred_aggregation: dict[type, Aggregation] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else honeycomb_settings(signal="metrics")
        self.inner = _metric_exporter(self.settings, preferred_temporality, preferred_aggregation)
        # The OTLP exporter turned OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE into
        # these; the reader reads them from us.
        super().__init__(
            preferred_temporality=getattr(self.inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(self.inner, "_preferred_aggregation", None),
        )
        _logger.debug("stripe-otel: exporting metrics to Honeycomb with %r", self.settings)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    def __repr__(self) -> str:
        return f"HoneycombMetricExporter({self.settings!r})"


def honeycomb_metric_exporter(
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    api_key: str | None = None,
    dataset: str | None = None,
    headers: Mapping[str, str] | None = None,
    compression: str | None = None,
    timeout: float | str | None = None,
    region: str | None = None,
    preferred_temporality: dict[type, Any] | None = None,
    preferred_aggregation: dict[type, Aggregation] | None = None,
    environ: Mapping[str, str] | None = None,
) -> HoneycombMetricExporter:
    """A metric exporter to Honeycomb (``/v1/metrics``); ``dataset`` names the metrics one."""
    settings = honeycomb_settings(
        endpoint=endpoint,
        protocol=protocol,
        api_key=api_key,
        dataset=dataset,
        headers=headers,
        compression=compression,
        timeout=timeout,
        region=region,
        signal="metrics",
        environ=environ,
    )
    return HoneycombMetricExporter(
        settings,
        preferred_temporality=preferred_temporality,
        preferred_aggregation=preferred_aggregation,
    )
