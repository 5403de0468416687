"""Whole-trace holding, partial flushes and bounds; the exporter around it, with a fake
transport (status fallbacks, the resilience layer, fail-open)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from stripe_otel.config import ConfigError
from stripe_otel.exporters._resilience import dropped_counts
from stripe_otel.exporters.datadog import DatadogAgentExporter
from stripe_otel.exporters.datadog._buffer import TraceBuffer
from tests.exporters._datadog_spans import TRACE_ID, make_span, stripe_trace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ids(chunks: list[list[Any]]) -> list[list[int]]:
    return [[s.context.span_id for s in chunk] for chunk in chunks]


def test_spans_are_held_until_their_root_arrives() -> None:
    buffer = TraceBuffer()
    network, attempt, decode, op, root = stripe_trace()
    assert buffer.add([network, attempt]) == []
    assert buffer.add([decode, op]) == []
    assert buffer.held_spans == 4
    [chunk] = buffer.add([root])
    assert ids([chunk]) == ids([[network, attempt, decode, op, root]])
    assert buffer.held_spans == 0 and buffer.held_traces == 0


def test_traces_in_one_batch_are_separated_and_late_spans_go_at_once() -> None:
    buffer = TraceBuffer()
    first, second = stripe_trace(TRACE_ID), stripe_trace(TRACE_ID + 1)
    chunks = buffer.add(first + second[:-1])
    assert ids(chunks) == ids([first])
    assert buffer.held_spans == 4
    # A span ending after its root (fire-and-forget child) is not held for 10 s.
    late = make_span("late", parent=first[-1])
    assert ids(buffer.add([late])) == ids([[late]])


def test_a_trace_held_too_long_is_flushed_partially() -> None:
    clock = Clock()
    buffer = TraceBuffer(max_hold_s=10.0, clock=clock)
    network, attempt, decode, op, root = stripe_trace()
    buffer.add([network, attempt])
    clock.now += 9.9
    assert buffer.add([decode]) == []
    clock.now += 0.2
    [partial] = buffer.add([])
    assert ids([partial]) == ids([[network, attempt, decode]])
    # The rest is held afresh and goes with its root.
    buffer.add([op])
    assert ids(buffer.add([root])) == ids([[op, root]])


def test_a_big_trace_is_flushed_in_chunks() -> None:
    buffer = TraceBuffer(max_trace_spans=1_000)
    root = make_span("root")
    children = [make_span("child", parent=root) for _ in range(2_500)]
    chunks = buffer.add(children[:1_200]) + buffer.add(children[1_200:])
    assert [len(c) for c in chunks] == [1_200, 1_300]
    assert buffer.held_spans == 0
    assert [len(c) for c in buffer.add([root])] == [1]


def test_held_spans_are_bounded_oldest_trace_first() -> None:
    buffer = TraceBuffer(max_held_spans=10, max_trace_spans=1_000)
    traces = [stripe_trace(TRACE_ID + i)[:-1] for i in range(3)]  # 4 spans each, no root
    assert buffer.add(traces[0] + traces[1]) == []
    chunks = buffer.add(traces[2])
    assert ids(chunks) == ids([traces[0]])
    assert buffer.held_spans == 8
    assert ids(buffer.release_all()) == ids([traces[1], traces[2]])
    assert buffer.held_spans == 0


class FakeTransport:
    """Answers with scripted statuses (None: connection error); records each request."""

    def __init__(self, *statuses: int | None) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    def put(self, path: str, body: bytes, headers: Mapping[str, str]) -> int | None:
        self.requests.append((path, body, dict(headers)))
        return self.statuses.pop(0) if self.statuses else 200

    def close(self) -> None:
        pass

    def forget(self) -> None:
        pass


def exporter_with(transport: FakeTransport, **kwargs: Any) -> DatadogAgentExporter:
    exporter = DatadogAgentExporter(agent_url="http://127.0.0.1:1", **kwargs)
    exporter._sender.transport = transport  # type: ignore[assignment]
    return exporter


def test_exporter_sends_whole_traces_with_headers() -> None:
    transport = FakeTransport()
    exporter = exporter_with(transport, headers={"X-Datadog-Test-Session-Token": "t"})
    spans = stripe_trace()
    assert exporter.export(spans[:2]) is SpanExportResult.SUCCESS
    assert transport.requests == [] and exporter.held_spans == 2
    assert exporter.export(spans[2:]) is SpanExportResult.SUCCESS
    [(path, body, headers)] = transport.requests
    assert path == "/v0.5/traces" and exporter.last_status == 200
    assert headers["X-Datadog-Trace-Count"] == "1"
    assert headers["Content-Type"] == "application/msgpack"
    assert headers["Datadog-Client-Computed-Top-Level"] == "yes"
    assert headers["Datadog-Meta-Lang"] == "python"
    assert headers["X-Datadog-Test-Session-Token"] == "t"
    _table, [trace] = msgpack.unpackb(body, strict_map_key=False)
    assert len(trace) == 5


@pytest.mark.parametrize("status", [404, 415])
def test_falls_back_to_v04_and_remembers(status: int) -> None:
    transport = FakeTransport(status)
    exporter = exporter_with(transport)
    assert exporter.export(stripe_trace()) is SpanExportResult.SUCCESS
    assert [r[0] for r in transport.requests] == ["/v0.5/traces", "/v0.4/traces"]
    [trace] = msgpack.unpackb(transport.requests[1][1])
    assert trace[0]["name"] == "stripe.network"
    exporter.export(stripe_trace(TRACE_ID + 1))
    assert transport.requests[-1][0] == "/v0.4/traces" and exporter.endpoint == "/v0.4/traces"


def test_agent_down_keeps_the_batch_and_sends_it_later() -> None:
    transport = FakeTransport(None)
    exporter = exporter_with(transport)
    assert exporter.export(stripe_trace()) is SpanExportResult.SUCCESS  # kept, not dropped
    assert exporter.last_status is None
    exporter.export(stripe_trace(TRACE_ID + 1))
    # The backlog (first trace) goes first, then the new batch.
    assert [r[2]["X-Datadog-Trace-Count"] for r in transport.requests] == ["1", "1", "1"]
    assert exporter.last_status == 200


def test_rejected_batches_are_dropped_and_counted() -> None:
    before = dropped_counts().get(("datadog", "rejected_403"), 0)
    transport = FakeTransport(403)
    exporter = exporter_with(transport)
    exporter.export(stripe_trace())
    assert dropped_counts()[("datadog", "rejected_403")] == before + 5
    exporter.export(stripe_trace(TRACE_ID + 1))
    assert len(transport.requests) == 2, "the rejected batch is not retried"


def test_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = exporter_with(FakeTransport())

    def boom(*_: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(exporter._buffer, "add", boom)
    assert exporter.export(stripe_trace()) is SpanExportResult.FAILURE


def test_a_span_that_cannot_be_mapped_costs_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = FakeTransport()
    exporter = exporter_with(transport)
    mapper = exporter._sender.mapper
    real = mapper.map_chunk

    def picky(spans: Any) -> Any:
        if any(s.name == "stripe.attempt" for s in spans):
            raise ValueError("bug")
        return real(spans)

    monkeypatch.setattr(mapper, "map_chunk", picky)
    assert exporter.export(stripe_trace()) is SpanExportResult.SUCCESS
    _table, [trace] = msgpack.unpackb(transport.requests[0][1], strict_map_key=False)
    assert len(trace) == 4


def test_shutdown_sends_held_spans() -> None:
    transport = FakeTransport()
    exporter = exporter_with(transport)
    exporter.export(stripe_trace()[:3])
    exporter.shutdown()
    assert len(transport.requests) == 1 and exporter.held_spans == 0
    assert exporter.export(stripe_trace()) is SpanExportResult.FAILURE


def test_bad_agent_url_is_a_config_error_at_start_up() -> None:
    # Not an exporter that silently never sends: the setting is named when it is built.
    with pytest.raises(ConfigError, match="agent_url"):
        DatadogAgentExporter(agent_url="ftp://nowhere")


def test_agent_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DD_TRACE_AGENT_URL", raising=False)
    monkeypatch.setenv("DD_AGENT_HOST", "dd-agent")
    monkeypatch.setenv("DD_TRACE_AGENT_PORT", "9126")
    assert DatadogAgentExporter().agent_url == "http://dd-agent:9126"
    monkeypatch.setenv("DD_TRACE_AGENT_URL", "unix:///var/run/datadog/apm.socket")
    assert DatadogAgentExporter().agent_url == "unix:///var/run/datadog/apm.socket"
    assert DatadogAgentExporter(agent_url="http://x:1").agent_url == "http://x:1"
