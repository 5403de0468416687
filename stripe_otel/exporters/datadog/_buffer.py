"""Holding spans until their trace is whole.

Datadog wants a trace's spans together: trace metrics, the top-level span and sampling
are decided per chunk, and a chunk without its root shows as a broken trace. Span
processors deliver spans as they *end*, so a trace's local root (no parent, or a remote
one) arrives last, possibly in a later batch. Spans whose root has not ended are held;
the root releases them.

Memory is bounded: a trace held longer than ``max_hold_s`` or grown past
``max_trace_spans`` is released as a partial chunk (Datadog joins chunks of one trace,
as it does for ddtrace's partial flushing), and past ``max_held_spans`` in all, the
oldest traces go first. Nothing is dropped here. The limits are checked when a batch
arrives and on force_flush (there is no timer thread), so an app that goes quiet keeps
its held spans until the next batch, flush or shutdown.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from opentelemetry.sdk.trace import ReadableSpan

Chunk = list[ReadableSpan]

# Traces whose root has been sent, remembered so that a span ending after its root (a
# fire-and-forget child) is sent at once rather than held until it times out.
_MAX_FINISHED = 10_000


@dataclass
class _Held:
    since: float
    spans: Chunk = field(default_factory=list)


def _trace_id(span: ReadableSpan) -> int:
    return span.context.trace_id if span.context is not None else 0


def _is_local_root(span: ReadableSpan) -> bool:
    return span.parent is None or span.parent.is_remote


class TraceBuffer:
    """Not thread-safe: the exporter calls it under its lock."""

    def __init__(
        self,
        max_held_spans: int = 10_000,
        max_trace_spans: int = 1_000,
        max_hold_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_held_spans = max_held_spans
        self.max_trace_spans = max_trace_spans
        self.max_hold_s = max_hold_s
        self._clock = clock
        # Insertion order is hold order: the first entry is the oldest trace.
        self._held: dict[int, _Held] = {}
        self._held_spans = 0
        self._finished: collections.OrderedDict[int, None] = collections.OrderedDict()

    @property
    def held_spans(self) -> int:
        return self._held_spans

    @property
    def held_traces(self) -> int:
        return len(self._held)

    def add(self, spans: Iterable[ReadableSpan]) -> list[Chunk]:
        """Take a batch; return the chunks ready to send (whole traces first)."""
        batch: dict[int, Chunk] = {}
        rooted: set[int] = set()
        for span in spans:
            trace_id = _trace_id(span)
            batch.setdefault(trace_id, []).append(span)
            if _is_local_root(span):
                rooted.add(trace_id)
        ready: list[Chunk] = []
        now = self._clock()
        for trace_id, chunk in batch.items():
            if trace_id in rooted or trace_id in self._finished:
                held = self._held.pop(trace_id, None)
                if held is not None:
                    self._held_spans -= len(held.spans)
                ready.append(held.spans + chunk if held is not None else chunk)
                self._finish(trace_id)
            else:
                self._held.setdefault(trace_id, _Held(now)).spans.extend(chunk)
                self._held_spans += len(chunk)
        ready.extend(self.release_due(now))
        return ready

    def release_due(self, now: float | None = None) -> list[Chunk]:
        """Partial chunks of traces held too long, too big, or over the total bound."""
        now = self._clock() if now is None else now
        due = [
            trace_id
            for trace_id, held in self._held.items()
            if now - held.since >= self.max_hold_s or len(held.spans) >= self.max_trace_spans
        ]
        released = [self._release(trace_id) for trace_id in due]
        while self._held_spans > self.max_held_spans and self._held:
            released.append(self._release(next(iter(self._held))))
        return released

    def release_all(self) -> list[Chunk]:
        """Everything held, as partial chunks (at shutdown)."""
        return [self._release(trace_id) for trace_id in list(self._held)]

    def _release(self, trace_id: int) -> Chunk:
        # The rest of the trace is held afresh when it comes, and sent with its root.
        held = self._held.pop(trace_id)
        self._held_spans -= len(held.spans)
        return held.spans

    def _finish(self, trace_id: int) -> None:
        self._finished[trace_id] = None
        self._finished.move_to_end(trace_id)
        if len(self._finished) > _MAX_FINISHED:
            self._finished.popitem(last=False)
