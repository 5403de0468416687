"""Percentiles per Stripe operation and per business transaction, and the slowest one."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stripe_otel import semconv as sc
from stripe_otel.report._load import SpanRecord

__all__ = [
    "OPERATION_PHASES",
    "PHASE_APP",
    "TRANSACTION_PHASES",
    "OperationSummary",
    "Stats",
    "Summary",
    "TransactionSummary",
    "Waterfall",
    "percentile",
    "summarize",
]

#: The rest of a span's time, after the measured phases: the app's own code on a
#: transaction, building the request and retry backoff on an operation.
PHASE_APP = "app"
#: Phase name -> the total attribute carrying it, in the order phases are shown.
OPERATION_PHASES: dict[str, str] = {
    sc.PHASE_NETWORK: sc.STRIPE_PHASE_NETWORK_MS,
    sc.PHASE_API_PROCESSING: sc.STRIPE_PHASE_API_PROCESSING_MS,
    sc.PHASE_SDK_DECODE: sc.STRIPE_PHASE_SDK_DECODE_MS,
    PHASE_APP: sc.STRIPE_PHASE_APP_MS,
}
TRANSACTION_PHASES: dict[str, str] = {
    sc.PHASE_NETWORK: sc.STRIPE_PHASE_NETWORK_MS,
    sc.PHASE_API_PROCESSING: sc.STRIPE_PHASE_API_PROCESSING_MS,
    sc.PHASE_SDK_DECODE: sc.STRIPE_PHASE_SDK_DECODE_MS,
    sc.PHASE_DB_WRITE: sc.STRIPE_PHASE_DB_WRITE_MS,
    PHASE_APP: sc.STRIPE_PHASE_APP_MS,
}


def percentile(values: Sequence[float], q: float) -> float:
    """The *q* (0-100) percentile, linearly interpolated between ranks (numpy's default),
    so a p99 of a few samples lies between the two largest instead of jumping to the max."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Stats:
    """Distribution of one quantity, in milliseconds."""

    count: int
    mean: float
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Stats | None:
        present = [v for v in values if v is not None and math.isfinite(v)]
        if not present:
            return None
        return cls(
            len(present),
            sum(present) / len(present),
            percentile(present, 50),
            percentile(present, 95),
            percentile(present, 99),
        )


@dataclass(frozen=True, slots=True)
class OperationSummary:
    """All calls of one Stripe endpoint (``{METHOD} {url.template}``)."""

    name: str
    method: str | None
    template: str | None
    operation: str | None  # stripe.operation, e.g. PaymentIntent.confirm
    count: int
    errors: int
    retries: int
    duration: Stats
    #: Phase -> distribution of its per-call total; only phases that were measured.
    phases: dict[str, Stats]
    error_codes: dict[str, int]


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    """All spans of one ``stripe_otel.transaction(name)``."""

    name: str
    count: int
    errors: int
    duration: Stats
    phases: dict[str, Stats]


@dataclass(frozen=True, slots=True)
class Waterfall:
    """The slowest transaction (or, without transactions, the slowest operation) and every
    span under it, depth first with siblings in start order, as a trace view shows them."""

    name: str
    trace_id: str
    duration_ms: float
    root: SpanRecord
    spans: list[SpanRecord]


@dataclass(slots=True)
class Summary:
    spans: list[SpanRecord]
    operations: list[OperationSummary]
    transactions: list[TransactionSummary]
    slowest: Waterfall | None
    _children: dict[tuple[str, str], list[SpanRecord]] = field(default_factory=dict, repr=False)
    _by_id: dict[tuple[str, str], SpanRecord] = field(default_factory=dict, repr=False)

    def children(self, span: SpanRecord) -> list[SpanRecord]:
        return self._children.get((span.trace_id, span.span_id), [])

    def parent(self, span: SpanRecord) -> SpanRecord | None:
        if span.parent_id is None:
            return None
        return self._by_id.get((span.trace_id, span.parent_id))

    def descendants(self, span: SpanRecord) -> list[SpanRecord]:
        found: list[SpanRecord] = []
        stack = list(reversed(self.children(span)))
        while stack:
            child = stack.pop()
            found.append(child)
            stack.extend(reversed(self.children(child)))
        return found

    def operation_spans(self) -> list[SpanRecord]:
        return [s for s in self.spans if is_operation(s)]

    def transaction_spans(self) -> list[SpanRecord]:
        return [s for s in self.spans if is_transaction(s)]


def is_operation(span: SpanRecord) -> bool:
    # HTTP instrumentations' CLIENT spans (when not suppressed) carry no stripe.* keys, and
    # DB instrumentations' CLIENT spans (marked stripe.phase=db_write) carry no URL template.
    return span.kind == "CLIENT" and span.is_stripe and sc.URL_TEMPLATE in span.attributes


def is_transaction(span: SpanRecord) -> bool:
    return span.text(sc.STRIPE_TRANSACTION) is not None


def operation_name(span: SpanRecord) -> str:
    method, template = span.text(sc.HTTP_REQUEST_METHOD), span.text(sc.URL_TEMPLATE)
    return f"{method} {template}" if method and template else span.name


def summarize(spans: Sequence[SpanRecord]) -> Summary:
    """Group *spans* (from :func:`load`) into per-operation and per-transaction stats."""
    spans = sorted(spans, key=lambda s: (s.start_ns, s.end_ns))
    summary = Summary(list(spans), [], [], None)
    for span in spans:
        summary._by_id[(span.trace_id, span.span_id)] = span
        if span.parent_id is not None:
            summary._children.setdefault((span.trace_id, span.parent_id), []).append(span)

    by_operation: defaultdict[str, list[SpanRecord]] = defaultdict(list)
    for span in summary.operation_spans():
        by_operation[operation_name(span)].append(span)
    summary.operations = sorted(
        (_operation(name, group) for name, group in by_operation.items()),
        key=lambda o: (-o.duration.mean * o.count, o.name),  # most total time first
    )

    by_transaction: defaultdict[str, list[SpanRecord]] = defaultdict(list)
    for span in summary.transaction_spans():
        by_transaction[span.text(sc.STRIPE_TRANSACTION) or span.name].append(span)
    summary.transactions = sorted(
        (_transaction(name, group) for name, group in by_transaction.items()),
        key=lambda t: (-t.duration.mean * t.count, t.name),
    )
    summary.slowest = _slowest(summary)
    return summary


def _operation(name: str, spans: list[SpanRecord]) -> OperationSummary:
    first = spans[0]
    codes = Counter(s.text(sc.STRIPE_ERROR_CODE) for s in spans if s.error)
    return OperationSummary(
        name=name,
        method=first.text(sc.HTTP_REQUEST_METHOD),
        template=first.text(sc.URL_TEMPLATE),
        operation=first.text(sc.STRIPE_OPERATION),
        count=len(spans),
        errors=sum(s.error for s in spans),
        retries=int(sum(s.number(sc.STRIPE_NUM_RETRIES) or 0 for s in spans)),
        duration=_durations(spans),
        phases=_phases(spans, OPERATION_PHASES),
        error_codes={code or "none": n for code, n in codes.most_common()},
    )


def _transaction(name: str, spans: list[SpanRecord]) -> TransactionSummary:
    return TransactionSummary(
        name=name,
        count=len(spans),
        errors=sum(s.error for s in spans),
        duration=_durations(spans),
        phases=_phases(spans, TRANSACTION_PHASES),
    )


def _durations(spans: list[SpanRecord]) -> Stats:
    stats = Stats.of(s.duration_ms for s in spans)
    assert stats is not None  # groups are never empty
    return stats


def _phases(spans: list[SpanRecord], keys: dict[str, str]) -> dict[str, Stats]:
    found = {phase: Stats.of(s.number(key) for s in spans) for phase, key in keys.items()}
    return {phase: stats for phase, stats in found.items() if stats is not None}


def _slowest(summary: Summary) -> Waterfall | None:
    roots = summary.transaction_spans() or summary.operation_spans()
    if not roots:
        return None
    root = max(roots, key=lambda s: s.duration_ms)
    name = root.text(sc.STRIPE_TRANSACTION) or operation_name(root)
    return Waterfall(name, root.trace_id, root.duration_ms, root, summary.descendants(root))
