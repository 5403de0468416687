"""``DatadogAgentExporter``: spans to the Datadog Agent's native trace API.

The layers, outermost first::

    DatadogAgentExporter   holds spans until their trace is whole (TraceBuffer)
      ResilientExporter    bounded backlog across Agent outages, 413 split, 4xx drop
        _AgentSender       map, msgpack-encode (v0.5, else v0.4), PUT; sets last_status

Whole-trace holding sits *outside* the resilience layer. Holding is not a failure: spans
waiting for their root must not count against the outage backlog's bounds or be dropped
as "backlog full", and a batch retried from the backlog must not pass through the holding
logic again (it would be held, or duplicated, a second time). So the resilience layer
only ever sees spans that are ready to go, and the sender regroups each batch it is given
by trace (after a 413 split, a trace may come in two halves: two chunks, which Datadog
joins, as it joins partial flushes).

It runs on the span processor's worker thread, never on the payment path, and never
raises: every error is counted (``stripe_otel.internal.errors``) or, for spans given up
on, ``stripe_otel.exporter.dropped_spans``.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from collections.abc import Mapping, Sequence
from typing import Final

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from stripe_otel._guard import report
from stripe_otel.exporters._resilience import ResilientExporter
from stripe_otel.exporters.datadog._buffer import Chunk, TraceBuffer
from stripe_otel.exporters.datadog._encoding import ENCODERS, V04, V05
from stripe_otel.exporters.datadog._mapping import DDSpan, SpanMapper
from stripe_otel.exporters.datadog._settings import agent_settings
from stripe_otel.exporters.datadog._transport import (
    AgentTransport,
)
from stripe_otel.version import __version__

__all__ = ["DatadogAgentExporter"]

_logger = logging.getLogger("stripe_otel.exporters")
EXPORTER_NAME: Final = "datadog"
# An old Agent without v0.5 answers 404 (or 415); it will not learn v0.5 while we run.
_FALLBACK_STATUSES: Final = frozenset({404, 415})
# A batch we could not encode will not encode on retry either. Reported to the resilience
# layer as "too large", so it is split down to the one bad span, which alone is dropped and
# counted, instead of losing (or blocking the backlog with) the whole batch.
_UNENCODABLE: Final = 413


class _AgentSender(SpanExporter):
    """Maps, encodes and sends one batch; the resilience layer reads ``last_status``."""

    def __init__(
        self,
        transport: AgentTransport | None,
        mapper: SpanMapper,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.transport = transport
        self.mapper = mapper
        self.endpoint = V05
        self.last_status: int | None = None
        self._headers = {
            "Content-Type": "application/msgpack",
            "Datadog-Meta-Lang": "python",
            "Datadog-Meta-Lang-Version": platform.python_version(),
            "Datadog-Meta-Lang-Interpreter": platform.python_implementation(),
            "Datadog-Meta-Tracer-Version": __version__,
            # We set _dd.top_level ourselves: the Agent need not recompute it.
            "Datadog-Client-Computed-Top-Level": "yes",
            **(headers or {}),
        }

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.last_status = None
        chunks = self._chunks(spans)
        if not chunks:
            return SpanExportResult.SUCCESS
        status = self._send(chunks)
        if status in _FALLBACK_STATUSES and self.endpoint == V05:
            self.endpoint = V04
            _logger.info("stripe-otel: the Datadog Agent has no /v0.5/traces; using v0.4")
            status = self._send(chunks)
        self.last_status = status
        ok = status is not None and 200 <= status < 300
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def _chunks(self, spans: Sequence[ReadableSpan]) -> list[list[DDSpan]]:
        by_trace: dict[int, Chunk] = {}
        for span in spans:
            trace_id = span.context.trace_id if span.context is not None else 0
            by_trace.setdefault(trace_id, []).append(span)
        chunks = []
        for chunk in by_trace.values():
            try:
                chunks.append(self.mapper.map_chunk(chunk))
            except Exception as exc:  # noqa: BLE001 - one bad span must not cost the batch
                report(f"{EXPORTER_NAME}.map", exc)
                mapped = [d for span in chunk for d in self._map_one(span)]
                if mapped:
                    chunks.append(mapped)
        return chunks

    def _map_one(self, span: ReadableSpan) -> list[DDSpan]:
        try:
            return self.mapper.map_chunk([span])
        except Exception as exc:  # noqa: BLE001
            report(f"{EXPORTER_NAME}.map", exc)
            return []

    def _send(self, chunks: list[list[DDSpan]]) -> int | None:
        try:
            body = ENCODERS[self.endpoint](chunks)
        except Exception as exc:  # noqa: BLE001
            report(f"{EXPORTER_NAME}.encode", exc)
            return _UNENCODABLE
        if self.transport is None:  # a bad Agent URL, logged when the exporter was made
            return None
        headers = {**self._headers, "X-Datadog-Trace-Count": str(len(chunks))}
        return self.transport.put(self.endpoint, body, headers)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        if self.transport is not None:
            self.transport.close()


class DatadogAgentExporter(SpanExporter):
    """Sends whole traces to the Datadog Agent (``/v0.5/traces``, else ``/v0.4/traces``).

    Every argument is optional (it is the ``datadog`` entry point of
    ``OTEL_TRACES_EXPORTER``); each overrides its environment variable: *agent_url*
    ``DD_TRACE_AGENT_URL`` (else ``DD_AGENT_HOST``/``DD_TRACE_AGENT_PORT``, else
    ``http://localhost:8126``; ``unix://`` sockets too), *service* ``DD_SERVICE`` (else the
    resource's ``service.name``), *env* ``DD_ENV``, *version* ``DD_VERSION``, *tags*
    ``DD_TAGS`` (merged). *headers* are added to every request (e.g. the test agent's
    ``X-Datadog-Test-Session-Token``). *timeout* is per request, in seconds.
    """

    def __init__(
        self,
        agent_url: str | None = None,
        service: str | None = None,
        env: str | None = None,
        version: str | None = None,
        tags: Mapping[str, str] | str | None = None,
        timeout: float = 2.0,
        headers: Mapping[str, str] | None = None,
        *,
        max_held_spans: int = 10_000,
        max_trace_spans: int = 1_000,
        max_hold_seconds: float = 10.0,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        # A bad address or timeout is a ConfigError naming the setting, here at start-up
        # (opentelemetry-instrument logs it and the app still starts), rather than an
        # exporter that silently never sends.
        settings = agent_settings(agent_url, timeout)
        self.agent_url = settings.url
        transport = AgentTransport(settings.url, settings.timeout)
        self._sender = _AgentSender(transport, SpanMapper(service, env, version, tags), headers)
        self._resilient = ResilientExporter(
            self._sender, EXPORTER_NAME, meter_provider=meter_provider
        )
        self._buffer = TraceBuffer(max_held_spans, max_trace_spans, max_hold_seconds)
        self._lock = threading.Lock()
        self._shutdown = False
        # A forked worker must not send its parent's held spans again, nor write to the
        # parent's connection.
        os.register_at_fork(after_in_child=self._after_fork)

    @property
    def last_status(self) -> int | None:
        """HTTP status of the last request to the Agent; None after a connection error."""
        return self._sender.last_status

    @property
    def endpoint(self) -> str:
        """The trace endpoint in use: ``/v0.5/traces``, or ``/v0.4/traces`` after fallback."""
        return self._sender.endpoint

    @property
    def held_spans(self) -> int:
        """Spans waiting for their trace's root."""
        return self._buffer.held_spans

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            with self._lock:
                ready = self._buffer.add(spans)
            return self._send(ready)
        except Exception as exc:  # noqa: BLE001 - an exporter must not raise into the SDK
            report(f"{EXPORTER_NAME}.export", exc)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Send what is due (traces held too long) and retry the backlog.

        Traces whose root is still open stay held: flushing them would split traces
        that are about to complete.
        """
        try:
            with self._lock:
                ready = self._buffer.release_due()
            sent = self._send(ready) is SpanExportResult.SUCCESS
            return self._resilient.force_flush(timeout_millis) and sent
        except Exception as exc:  # noqa: BLE001
            report(f"{EXPORTER_NAME}.force_flush", exc)
            return False

    def shutdown(self) -> None:
        """Send everything, held traces as partial chunks, then close the connection."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            with self._lock:
                ready = self._buffer.release_all()
            self._send(ready)
        except Exception as exc:  # noqa: BLE001
            report(f"{EXPORTER_NAME}.shutdown", exc)
        self._resilient.shutdown()  # never raises

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._buffer.release_all()
        if self._sender.transport is not None:
            self._sender.transport.forget()

    def _send(self, chunks: list[Chunk]) -> SpanExportResult:
        if not chunks:
            return SpanExportResult.SUCCESS
        return self._resilient.export([span for chunk in chunks for span in chunk])
