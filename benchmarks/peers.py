"""Other tracers of the same call, for comparison: OpenTelemetry's own httpx / requests
instrumentations alone, and ddtrace's httpx / requests integrations.

Each peer is a (turn on, turn off) pair like overhead.py's configurations, and instruments
the transport that actually carries the call (httpx peers where stripe's HTTPXClient
sends, requests peers where its RequestsClient does).

ddtrace without an Agent: before ddtrace is first imported we point it at
``http://127.0.0.1:9`` (nothing listens there) and turn off its telemetry, remote
configuration and start-up logs; then a ``TraceFilter`` that returns None drops every
finished trace before the writer sees it. So ddtrace pays for creating, tagging and
finishing its spans and injecting its headers, exactly like our configurations pay for
theirs up to a discarding exporter, and never encodes or sends anything. Patching goes
through ddtrace's API (``ddtrace.patch(httpx=True)`` once), then the contrib module's own
``patch()`` / ``unpatch()`` between blocks.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from benchmarks._common import Configuration, telemetry

# Set before ddtrace is imported (it reads them once); setdefault leaves a user's own.
_DDTRACE_ENV = {
    "DD_TRACE_AGENT_URL": "http://127.0.0.1:9",
    "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
    "DD_REMOTE_CONFIGURATION_ENABLED": "false",
    "DD_TRACE_STARTUP_LOGS": "false",
    "DD_TRACE_STATS_COMPUTATION_ENABLED": "false",
}

#: Traces ddtrace finished (and we dropped) since the process started: proof it traced.
ddtrace_traces_dropped = 0


def _ddtrace() -> Any:
    """Import ddtrace with no Agent needed and every trace dropped; return the module."""
    for key, value in _DDTRACE_ENV.items():
        os.environ.setdefault(key, value)
    import ddtrace
    from ddtrace.trace import TraceFilter, tracer

    class DropEverything(TraceFilter):
        def process_trace(self, trace: list[Any]) -> list[Any] | None:
            global ddtrace_traces_dropped
            ddtrace_traces_dropped += 1
            return None

    tracer.configure(trace_processors=[DropEverything()])
    return ddtrace


def _ddtrace_peer(integration: str) -> Configuration:
    ddtrace = _ddtrace()
    ddtrace.patch(**{integration: True})  # the documented entry point, once
    contrib = importlib.import_module(f"ddtrace.contrib.internal.{integration}.patch")
    contrib.unpatch()  # off until its block
    start = ddtrace_traces_dropped
    return Configuration(contrib.patch, contrib.unpatch, lambda: ddtrace_traces_dropped - start)


def _otel_peer(integration: str) -> Configuration:
    if integration == "httpx":
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor as Instrumentor
    else:
        from opentelemetry.instrumentation.requests import RequestsInstrumentor as Instrumentor
    kwargs, produced = telemetry(sampled=True)

    def on() -> None:
        Instrumentor().instrument(**kwargs)

    def off() -> None:
        Instrumentor().uninstrument()

    return Configuration(on, off, produced)


def peers(wire: str) -> dict[str, Configuration]:
    """The peers for calls carried by *wire* ("httpx" or "requests")."""
    return {
        f"opentelemetry-instrumentation-{wire} alone": _otel_peer(wire),
        f"ddtrace {wire} integration": _ddtrace_peer(wire),
    }
