"""The retry backlog: bounded in spans and bytes, retried oldest first, split on 413,
dropped (and counted) when the backend refuses for good."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stripe_otel.exporters._resilience import ResilientExporter, dropped_counts


class ScriptedBackend(SpanExporter):
    """Stands in for a vendor endpoint: answers each export with the next scripted status."""

    def __init__(self, statuses: list[int] | None = None, max_batch: int | None = None) -> None:
        self.statuses = list(statuses or [])
        self.max_batch = max_batch
        self.received: list[list[str]] = []
        self.last_status: int | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        status = self.statuses.pop(0) if self.statuses else 200
        if self.max_batch is not None and len(spans) > self.max_batch:
            status = 413
        self.last_status = status
        if status == 200:
            self.received.append([s.name for s in spans])
            return SpanExportResult.SUCCESS
        return SpanExportResult.FAILURE


def make_spans(n: int, prefix: str = "s") -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for i in range(n):
        tracer.start_span(f"{prefix}{i}").end()
    return list(memory.get_finished_spans())


def delivered(backend: ScriptedBackend) -> list[str]:
    return [name for batch in backend.received for name in batch]


def test_outage_then_recovery_delivers_everything_once_in_order() -> None:
    backend = ScriptedBackend([503, 503, 503])
    exporter = ResilientExporter(backend, "test-outage")
    a, b, c = make_spans(2, "a"), make_spans(2, "b"), make_spans(2, "c")
    exporter.export(a)  # 503: kept
    exporter.export(b)  # backlog retry 503: both kept
    assert exporter.backlog_spans == 4
    exporter.export(c)  # backlog retry 503 again -> c kept too
    assert exporter.force_flush(1000)
    assert delivered(backend) == ["a0", "a1", "b0", "b1", "c0", "c1"]
    assert exporter.backlog_spans == 0


def test_backlog_is_bounded_and_drops_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    backend = ScriptedBackend([503] * 100)
    exporter = ResilientExporter(backend, "test-bounded", max_backlog_spans=5)
    with caplog.at_level(logging.WARNING, logger="stripe_otel.exporters"):
        for i in range(4):
            exporter.export(make_spans(2, f"b{i}"))
    assert exporter.backlog_spans <= 5
    assert dropped_counts()[("test-bounded", "backlog_full")] == 4  # the two oldest batches
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1  # rate-limited


def test_byte_bound() -> None:
    backend = ScriptedBackend([503] * 100)
    exporter = ResilientExporter(backend, "test-bytes", max_backlog_bytes=1_000)
    exporter.export(make_spans(10))
    assert dropped_counts()[("test-bytes", "backlog_full")] == 10


def test_413_splits_the_batch() -> None:
    backend = ScriptedBackend(max_batch=3)
    exporter = ResilientExporter(backend, "test-split")
    assert exporter.export(make_spans(10)).name == "SUCCESS"
    assert delivered(backend) == [f"s{i}" for i in range(10)]
    assert all(len(batch) <= 3 for batch in backend.received)


def test_single_span_too_large_is_dropped() -> None:
    backend = ScriptedBackend(max_batch=0)
    exporter = ResilientExporter(backend, "test-large")
    exporter.export(make_spans(1))
    assert dropped_counts()[("test-large", "too_large")] == 1
    assert exporter.backlog_spans == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_rejections_are_dropped_not_retried(status: int) -> None:
    backend = ScriptedBackend([status])
    exporter = ResilientExporter(backend, f"test-rejected-{status}")
    exporter.export(make_spans(3))
    assert exporter.backlog_spans == 0
    assert dropped_counts()[(f"test-rejected-{status}", f"rejected_{status}")] == 3
    exporter.export(make_spans(1, "next"))
    assert delivered(backend) == ["next0"]


def test_an_exporter_that_raises_does_not_raise_into_the_sdk() -> None:
    class Broken(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            raise RuntimeError("vendor library bug")

    assert ResilientExporter(Broken(), "test-broken").export(make_spans(1)).name == "FAILURE"


def test_shutdown_counts_what_it_could_not_deliver() -> None:
    backend = ScriptedBackend([503] * 100)
    exporter = ResilientExporter(backend, "test-shutdown")
    exporter.export(make_spans(3))
    exporter.shutdown()
    assert dropped_counts()[("test-shutdown", "shutdown")] == 3


def test_split_then_outage_sends_nothing_twice() -> None:
    # 413 on the whole batch, first half accepted, then the backend goes down: only the
    # second half may stay behind, and it must go out once, after the first.
    backend = ScriptedBackend([413, 200, 503, 503])
    exporter = ResilientExporter(backend, "test-split-outage")
    exporter.export(make_spans(4))
    assert delivered(backend) == ["s0", "s1"]
    assert exporter.backlog_spans == 2
    exporter.export(make_spans(1, "n"))
    assert exporter.force_flush(1000)
    assert delivered(backend) == ["s0", "s1", "s2", "s3", "n0"]


def test_backlog_is_retried_on_a_timer_without_new_spans() -> None:
    # The SDK's BatchSpanProcessor only calls export() with new spans; a quiet app must
    # still get its backlog out once the backend is back.
    import time

    backend = ScriptedBackend([503])
    exporter = ResilientExporter(backend, "test-timer", retry_interval_s=0.05)
    exporter.export(make_spans(2))
    deadline = time.monotonic() + 5
    while exporter.backlog_spans and time.monotonic() < deadline:
        time.sleep(0.02)
    assert delivered(backend) == ["s0", "s1"]
    exporter.shutdown()


def test_array_attributes_count_towards_the_byte_bound() -> None:
    from stripe_otel.exporters._resilience import approximate_size

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("t").start_span("big", attributes={"tags": ["x" * 1000] * 50}).end()
    [span] = memory.get_finished_spans()
    assert approximate_size(span) >= 50_000


def test_export_reports_failure_when_it_gave_spans_up() -> None:
    rejected = ResilientExporter(ScriptedBackend([401]), "test-result-401")
    assert rejected.export(make_spans(2)).name == "FAILURE"
    kept = ResilientExporter(ScriptedBackend([503]), "test-result-503")
    assert kept.export(make_spans(2)).name == "SUCCESS"  # kept for retry, not lost
    kept.shutdown()
