"""The span processor that makes DB-instrumentation writes count as ``db_write``.

Classification (what is a DB write span) lives in :mod:`stripe_otel._db_spans`; this
module holds only the processor, because it subclasses the SDK's ``SpanProcessor`` and is
imported only once an SDK provider is there to take it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from opentelemetry.context import Context

from stripe_otel import _db_spans, _runtime, _transaction, semconv
from stripe_otel._db_spans import WRITE_VERBS
from stripe_otel._guard import report

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
else:
    try:
        from opentelemetry.sdk.trace import SpanProcessor
    except ImportError:  # the SDK is optional; without it there is no provider to join
        SpanProcessor = object


class DbWriteSpanProcessor(SpanProcessor):
    """Marks DB write spans ``stripe.phase=db_write`` and counts them into transactions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # span id -> (the transaction it counts into, its owner), from start to end.
        self._open: dict[int, tuple[_transaction.TransactionTotals, _db_spans.Owner]] = {}
        # owner -> span id of the write span being counted there now (to skip nested layers).
        self._counting: dict[_db_spans.Owner, int] = {}

    # An SDK provider cannot drop a processor, so after uninstrument() this one stays
    # installed; like every other hook it then passes straight through.
    # Every span of the app passes through here, ours included (six per Stripe call), so
    # the common case (not a DB span) returns before any call or lock: try/except costs
    # nothing in CPython 3.11 until something raises.
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            if _runtime.current is None or _db_spans.is_ours(span):
                return
            self._on_start(span, parent_context)
        except Exception as exc:  # noqa: BLE001 - fail open
            report("DbWriteSpanProcessor._on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if _runtime.current is None or _db_spans.is_ours(span):
                return
            self._on_end(span)
        except Exception as exc:  # noqa: BLE001 - fail open
            report("DbWriteSpanProcessor._on_end", exc)

    def _nested(self, owner: _db_spans.Owner) -> bool:
        # Called with the lock held.
        return self._counting.get(owner) in self._open

    def _on_start(self, span: Span, parent_context: Context | None) -> None:
        if not _db_spans.is_db_span(span) or _db_spans.verb(span.name) not in WRITE_VERBS:
            return
        span.set_attribute(semconv.STRIPE_PHASE, semconv.PHASE_DB_WRITE)
        totals = _transaction.current_totals()
        if totals is None or _transaction.in_db_write():
            return
        span_id = span.get_span_context().span_id
        owner = _db_spans.owner()
        with self._lock:
            if self._nested(owner):
                return
            if len(self._open) >= _db_spans.MAX_OPEN:
                stale_id, (_, stale_owner) = next(iter(self._open.items()))
                del self._open[stale_id]
                if self._counting.get(stale_owner) == stale_id:
                    del self._counting[stale_owner]
            self._open[span_id] = (totals, owner)
            self._counting[owner] = span_id

    def _on_end(self, span: ReadableSpan) -> None:
        span_context = span.context
        if span_context is None:
            return
        span_id = span_context.span_id
        entry = None
        if span_id in self._open:  # a lock-free look first: most spans were never counted
            with self._lock:
                entry = self._open.pop(span_id, None)
                if entry is not None and self._counting.get(entry[1]) == span_id:
                    del self._counting[entry[1]]
        if entry is not None:
            entry[0].add_db_write(_db_spans.duration(span))
            return
        attributes = span.attributes or {}
        if attributes.get(semconv.STRIPE_PHASE) is not None:
            return  # decided at start (or one of our own spans): nothing to add now
        # Fallback: not recognisable by name at start. DB spans end in the thread or task
        # that made them, so the current context is the one the statement ran in.
        if not _db_spans.is_db_span(span) or not _db_spans.shows_write(attributes):
            return
        totals = _transaction.current_totals()
        if totals is None or _transaction.in_db_write():
            return
        with self._lock:
            if self._nested(_db_spans.owner()):
                return
        totals.add_db_write(_db_spans.duration(span))
