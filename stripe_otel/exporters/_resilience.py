"""Exporting without losing spans to a short outage, and without unbounded memory.

:class:`ResilientExporter` wraps a vendor exporter. A batch that fails to export is kept
in a backlog — bounded in spans and in bytes — and retried, oldest first, before the next
batch; so spans buffered during a short outage arrive once it is over. What cannot be kept
is dropped, counted (a metric and :func:`dropped_counts`) and logged at most once a minute.
It runs on the span processor's worker thread, never on the payment path, and never raises.

The wrapped exporter may expose ``last_status`` (the HTTP status of its last attempt):
413 splits the batch in two and retries the halves; 400/401/403/404 mean the backend
will never take it (a bad key, a wrong dataset), so the batch is dropped, not retried.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.metrics import Counter, MeterProvider, get_meter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from stripe_otel import semconv
from stripe_otel._guard import report
from stripe_otel.version import __version__

_logger = logging.getLogger("stripe_otel.exporters")
_REJECTED = frozenset({400, 401, 403, 404})
_LOG_INTERVAL_S = 60.0
_SPAN_OVERHEAD_BYTES = 200  # ids, timestamps, kind, status: roughly, on the wire

_drops_lock = threading.Lock()
_drops: collections.Counter[tuple[str, str]] = collections.Counter()


def dropped_counts() -> dict[tuple[str, str], int]:
    """Spans dropped so far, by (exporter, reason)."""
    with _drops_lock:
        return dict(_drops)


def _value_size(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):  # arrays of strings can be large too
        return sum(len(item) if isinstance(item, str) else 8 for item in value)
    return 8


def _attributes_size(attributes: Any) -> int:
    return sum(len(key) + _value_size(value) for key, value in (attributes or {}).items())


def approximate_size(span: ReadableSpan) -> int:
    """A cheap estimate of a span's encoded size, for the byte bound."""
    size = _SPAN_OVERHEAD_BYTES + len(span.name) + _attributes_size(span.attributes)
    for event in span.events:
        size += len(event.name) + _attributes_size(event.attributes)
    for link in span.links:
        size += 32 + _attributes_size(link.attributes)
    return size


class ResilientExporter(SpanExporter):
    """Wraps *inner* with a bounded retry backlog and drop accounting."""

    def __init__(
        self,
        inner: SpanExporter,
        name: str,
        *,
        max_backlog_spans: int = 20_000,
        max_backlog_bytes: int = 32 * 1024 * 1024,
        meter_provider: MeterProvider | None = None,
        retry_interval_s: float = 5.0,
    ) -> None:
        self.inner = inner
        self.retry_interval_s = retry_interval_s
        self._timer: threading.Timer | None = None
        self._next_interval = retry_interval_s
        self.name = name
        self.max_backlog_spans = max_backlog_spans
        self.max_backlog_bytes = max_backlog_bytes
        self._backlog: collections.deque[tuple[list[ReadableSpan], int]] = collections.deque()
        self._backlog_spans = 0
        self._backlog_bytes = 0
        self._lock = threading.Lock()
        self._last_log = 0.0
        self._dropped: Counter = get_meter(
            semconv.INSTRUMENTATION_NAME, __version__, meter_provider=meter_provider
        ).create_counter(
            semconv.METRIC_EXPORTER_DROPPED,
            unit="{span}",
            description="Spans an exporter gave up on: backlog full, rejected, too large.",
        )
        self._closed = False
        self._dropped_here = 0  # this exporter's own drops (the module counter is shared)
        # A forked worker must not re-send (duplicate) its parent's backlog, nor inherit a
        # lock another thread of the parent held at the fork.
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    # -- SpanExporter ---------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            with self._lock:
                dropped_before = self._dropped_here
                batch = list(spans)
                rest = self._send(batch) if self._drain() else batch
                if rest:
                    self._keep(rest)
                # FAILURE only when something was given up on (rejected, too large, pushed
                # out of the backlog); spans kept for retry are not lost.
                lost = self._dropped_here > dropped_before
                return SpanExportResult.FAILURE if lost else SpanExportResult.SUCCESS
        except Exception as exc:  # noqa: BLE001 - an exporter must not raise into the SDK
            report(f"{self.name}.export", exc)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        try:
            # The retry timer may hold the lock while it drains: wait no longer than allowed.
            if not self._lock.acquire(timeout=max(0.0, timeout_millis / 1000)):
                return False
            try:
                self._drain(deadline=deadline)
                empty = not self._backlog
            finally:
                self._lock.release()
            # The SDK's base class returns None here; only an explicit False is a failure.
            return self.inner.force_flush(timeout_millis) is not False and empty
        except Exception as exc:  # noqa: BLE001
            report(f"{self.name}.force_flush", exc)
            return False

    def shutdown(self) -> None:
        try:
            self._closed = True  # no new retry timer from here on
            if self._timer is not None:
                self._timer.cancel()
            self.force_flush(timeout_millis=5_000)
            if self._lock.acquire(timeout=5.0):
                try:
                    if self._backlog_spans:
                        self._count_drop(self._backlog_spans, "shutdown")
                    self._forget_backlog()
                finally:
                    self._lock.release()
            self.inner.shutdown()
        except Exception as exc:  # noqa: BLE001
            report(f"{self.name}.shutdown", exc)

    # -- internals (called with the lock held) --------------------------------------
    def _send(self, batch: list[ReadableSpan]) -> list[ReadableSpan]:
        """Export *batch*; return what is left to retry (empty: sent, or dropped for good)."""
        if not batch:
            return []
        if self.inner.export(batch) is SpanExportResult.SUCCESS:
            return []
        status = getattr(self.inner, "last_status", None)
        if status == 413:
            if len(batch) == 1:
                self._count_drop(1, "too_large")
                return []
            half = len(batch) // 2
            rest = self._send(batch[:half])
            return rest + batch[half:] if rest else self._send(batch[half:])
        if status in _REJECTED:
            self._count_drop(len(batch), f"rejected_{status}")
            return []
        return batch

    def _drain(self, limit: int | None = None, deadline: float | None = None) -> bool:
        """Retry the backlog, oldest first, for at most *limit* batches or until *deadline*.
        True if it is now empty."""
        sent = 0
        while self._backlog and (limit is None or sent < limit):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            batch, size = self._backlog.popleft()
            self._backlog_spans -= len(batch)
            self._backlog_bytes -= size
            rest = self._send(batch)
            if rest:
                # Put back only what is still unsent, at the front: order is kept.
                rest_size = size if len(rest) == len(batch) else self._size(rest)
                self._backlog.appendleft((rest, rest_size))
                self._backlog_spans += len(rest)
                self._backlog_bytes += rest_size
                return False
            sent += 1
        return not self._backlog

    @staticmethod
    def _size(batch: list[ReadableSpan]) -> int:
        return sum(approximate_size(span) for span in batch)

    def _keep(self, batch: list[ReadableSpan]) -> None:
        size = self._size(batch)
        self._backlog.append((batch, size))
        self._backlog_spans += len(batch)
        self._backlog_bytes += size
        while self._backlog and (
            self._backlog_spans > self.max_backlog_spans
            or self._backlog_bytes > self.max_backlog_bytes
        ):
            oldest, oldest_size = self._backlog.popleft()
            self._backlog_spans -= len(oldest)
            self._backlog_bytes -= oldest_size
            self._count_drop(len(oldest), "backlog_full")
        self._arm_retry()

    def _arm_retry(self) -> None:
        """Retry the backlog on a timer too: the SDK's batch processor only calls us with
        new spans (its force_flush does not reach exporters), so an app gone quiet after
        an outage would otherwise hold its backlog until shutdown."""
        if self._timer is None and self._backlog and not self._closed:
            self._timer = threading.Timer(self._next_interval, self._retry_tick)
            self._timer.daemon = True
            self._timer.start()

    def _retry_tick(self) -> None:
        try:
            with self._lock:
                self._timer = None
                if self._closed:
                    return
                # Bounded: a shutdown waiting for the lock must not wait out a long backlog.
                emptied = self._drain(deadline=time.monotonic() + 2.0)
                # Back off while the backend stays down; start again fast once it is back.
                self._next_interval = (
                    self.retry_interval_s if emptied else min(self._next_interval * 2, 60.0)
                )
                self._arm_retry()
        except Exception as exc:  # noqa: BLE001 - a timer thread must not die noisily
            report(f"{self.name}.retry", exc)

    def _after_fork_in_child(self) -> None:
        global _drops_lock
        self._lock = threading.Lock()
        _drops_lock = threading.Lock()
        self._forget_backlog()

    def _forget_backlog(self) -> None:
        self._backlog.clear()
        self._backlog_spans = self._backlog_bytes = 0
        self._timer = None  # in a forked child the parent's timer thread does not exist

    def _count_drop(self, count: int, reason: str) -> None:
        self._dropped_here += count
        with _drops_lock:
            _drops[(self.name, reason)] += count
        self._dropped.add(
            count,
            {semconv.STRIPE_OTEL_EXPORTER: self.name, semconv.STRIPE_OTEL_DROP_REASON: reason},
        )
        now = time.monotonic()
        if now - self._last_log >= _LOG_INTERVAL_S:
            self._last_log = now
            # Never the batch, the headers or the endpoint's credentials: counts only.
            _logger.warning(
                "stripe-otel: %s dropped %d span(s) (%s); totals so far: %s. "
                "Logged at most once a minute.",
                self.name,
                count,
                reason,
                {f"{n}/{r}": c for (n, r), c in dropped_counts().items()},
            )

    @property
    def backlog_spans(self) -> int:
        return self._backlog_spans

    def __getattr__(self, name: str) -> Any:  # e.g. the inner exporter's endpoint
        if name == "inner":  # not set yet (or unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)
