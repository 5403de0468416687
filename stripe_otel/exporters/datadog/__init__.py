"""Datadog: the Agent's native trace API, or Datadog's names for its OTLP receiver.

* :class:`DatadogAgentExporter` (entry point ``datadog``): whole traces, msgpack, to
  ``/v0.5/traces`` (``/v0.4/traces`` for old Agents). Needs ``msgpack``.
* :class:`DatadogMappingSpanProcessor`: sets ``operation.name``/``resource.name``/
  ``span.type``/``_dd.measured`` on our spans for the Agent's OTLP receiver (the OTLP
  exporters are in :mod:`stripe_otel.exporters.datadog_otlp`).
"""

from stripe_otel.exporters.datadog._agent import DatadogAgentExporter
from stripe_otel.exporters.datadog._mapping import SpanMapper
from stripe_otel.exporters.datadog._otlp import DatadogMappingSpanProcessor

__all__ = ["DatadogAgentExporter", "DatadogMappingSpanProcessor", "SpanMapper"]
