"""The demo's OpenTelemetry: its own SDK TracerProvider, spans to a file and to vendors.

The provider is not made global: the demo also runs inside other programs (the test
suite), and a global provider can be set only once per process. Spans always go to
``spans.jsonl`` (OTLP/JSON lines, what ``stripe-otel report`` reads), and also to
Honeycomb or Datadog when their usual environment variables are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from stripe_otel import ConfigError, StripeInstrumentor
from stripe_otel.demo._errors import DemoError
from stripe_otel.exporters.file import OtlpJsonFileExporter

__all__ = ["SERVICE_NAME", "Telemetry", "vendor_exporters"]

SERVICE_NAME = "stripe-otel-demo"
# A run makes about 20 spans per transaction in a few seconds. The SDK's defaults (2,048
# queued, exported every 5 s) would drop spans at the default workload, and a dropped
# span is a hole in the report.
_QUEUE = 65_536
_DELAY_MS = 500
_FLUSH_MS = 30_000


def vendor_exporters(
    environ: Mapping[str, str] | None = None,
) -> tuple[list[tuple[str, SpanExporter]], list[str]]:
    """(name, exporter) for each vendor configured in the environment, and notes about
    the ones that could not be set up (a missing extra), to show the user."""
    env = os.environ if environ is None else environ
    found: list[tuple[str, SpanExporter]] = []
    notes: list[str] = []
    if env.get("HONEYCOMB_API_KEY"):
        try:
            from stripe_otel.exporters.honeycomb import honeycomb_exporter  # noqa: PLC0415

            found.append(("Honeycomb", honeycomb_exporter(environ=env)))
        except ImportError as exc:
            notes.append(f'Honeycomb: {exc.name} is missing: pip install "stripe-otel[honeycomb]"')
        except ConfigError as exc:
            # A bad setting costs the export, not the demo: the file has every span.
            notes.append(f"Honeycomb: not exporting: {exc}")
    if env.get("DD_API_KEY") or env.get("DD_TRACE_AGENT_URL"):
        try:
            from stripe_otel.exporters.datadog import DatadogAgentExporter  # noqa: PLC0415

            # No URL: the exporter finds the Agent from DD_AGENT_HOST etc. or localhost.
            found.append(("Datadog", DatadogAgentExporter(env.get("DD_TRACE_AGENT_URL"))))
        except ImportError as exc:
            notes.append(f'Datadog: {exc.name} is missing: pip install "stripe-otel[datadog]"')
    return found, notes


@dataclass
class Telemetry:
    """The demo's provider and its exporters; :meth:`instrument` points stripe at it."""

    spans_path: Path
    environ: Mapping[str, str]
    provider: TracerProvider = field(init=False)
    vendors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _instrumented: bool = False

    def __post_init__(self) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        exporters: list[tuple[str, SpanExporter]] = [
            ("file", OtlpJsonFileExporter(self.spans_path))
        ]
        found, self.notes = vendor_exporters(self.environ)
        exporters += found
        self.vendors = [name for name, _ in found]
        for _, exporter in exporters:
            # One processor each: a slow vendor must not hold the file back.
            self.provider.add_span_processor(
                BatchSpanProcessor(exporter, max_queue_size=_QUEUE, schedule_delay_millis=_DELAY_MS)
            )

    def instrument(self) -> None:
        instrumentor = StripeInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            # Our spans would go to someone else's provider, and the report be empty.
            raise DemoError(
                "stripe is already instrumented in this process (opentelemetry-instrument "
                "or stripe_otel.auto?); run the demo on its own"
            )
        # Metrics off: there is no meter provider to read them here, only the spans count.
        instrumentor.instrument(tracer_provider=self.provider, metrics=False)
        self._instrumented = True

    def shutdown(self) -> None:
        """Uninstrument stripe, then export every span still queued and close the file."""
        if self._instrumented:
            StripeInstrumentor().uninstrument()
            self._instrumented = False
        self.provider.force_flush(_FLUSH_MS)
        self.provider.shutdown()
