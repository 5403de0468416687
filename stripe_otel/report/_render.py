"""The report as text for a terminal and as JSON for machines."""

from __future__ import annotations

import dataclasses
import math
import textwrap
from typing import Any

from stripe_otel import semconv as sc
from stripe_otel.report._rules import Finding
from stripe_otel.report._summary import (
    OPERATION_PHASES,
    PHASE_APP,
    TRANSACTION_PHASES,
    Stats,
    Summary,
)

__all__ = ["JSON_VERSION", "render_text", "to_json"]

#: Bumped when a key of :func:`to_json`'s output changes meaning or goes away.
JSON_VERSION = 1

#: Column headings, on two lines. api_processing is an estimate (Stripe sends no server
#: timing): the heading says so.
_HEADINGS = {
    sc.PHASE_NETWORK: ("", "network"),
    sc.PHASE_API_PROCESSING: ("stripe", "(est.)"),
    sc.PHASE_SDK_DECODE: ("", "decode"),
    sc.PHASE_DB_WRITE: ("", "db_write"),
    PHASE_APP: ("", "app"),
}
_QUANTILES = (("p50", 50), ("p95", 95), ("p99", 99))
_NAME_WIDTH = 42
_NUM_WIDTH = 9
_WRAP = 100


def _num(stats: Stats | None, quantile: str) -> str:
    if stats is None:
        return "-"
    value: float = getattr(stats, quantile)
    return f"{value:.1f}" if math.isfinite(value) else "-"


def _table(
    title: str, rows: list[tuple[str, int, int, Stats, dict[str, Stats]]], phases: list[str]
) -> list[str]:
    """Three lines per row (p50, p95, p99); each column is that quantity's own percentile,
    so the phase columns need not add up to the total."""
    headings = [("", "total"), *(_HEADINGS[p] for p in phases)]
    pad = " " * (_NAME_WIDTH + 19)
    top = (pad + "".join(f" {h[0]:>{_NUM_WIDTH}}" for h in headings)).rstrip()
    head = f"{title:<{_NAME_WIDTH}} {'calls':>6} {'errors':>6}     " + "".join(
        f" {h[1]:>{_NUM_WIDTH}}" for h in headings
    )
    lines = [top, head, "-" * len(head)]
    for name, count, errors, duration, stats in rows:
        shown = name if len(name) <= _NAME_WIDTH else name[: _NAME_WIDTH - 1] + "…"
        for i, (label, _) in enumerate(_QUANTILES):
            left = (
                f"{shown:<{_NAME_WIDTH}} {count:>6} {errors:>6}"
                if i == 0
                else " " * (_NAME_WIDTH + 14)
            )
            cells = [_num(duration, label), *(_num(stats.get(p), label) for p in phases)]
            lines.append(f"{left} {label} " + "".join(f" {c:>{_NUM_WIDTH}}" for c in cells))
    return lines


def render_text(summary: Summary, findings: list[Finding]) -> str:
    """A plain-text report: tables of p50/p95/p99 in ms by phase, then the findings."""
    ops, txs = summary.operations, summary.transactions
    lines = [
        f"stripe-otel report: {len(summary.spans)} spans, "
        f"{sum(o.count for o in ops)} Stripe operations, {sum(t.count for t in txs)} transactions",
        "Times in ms; 'stripe (est.)' is Stripe's processing time, estimated as the wait for "
        "the response minus the round trip.",
        "",
    ]
    if ops:
        rows = [(o.name, o.count, o.errors, o.duration, o.phases) for o in ops]
        lines += [*_table("Operations", rows, list(OPERATION_PHASES)), ""]
    if txs:
        rows = [(t.name, t.count, t.errors, t.duration, t.phases) for t in txs]
        lines += [*_table("Transactions", rows, list(TRANSACTION_PHASES)), ""]
    if summary.slowest is not None:
        slow = summary.slowest
        lines += [
            f"Slowest: {slow.name} {slow.duration_ms:.1f} ms (trace {slow.trace_id}, "
            f"{len(slow.spans) + 1} spans)",
            "",
        ]
    if findings:
        lines.append(f"Findings ({len(findings)}):")
        for f in findings:
            lines.append(f"  [{f.severity}] {f.code}: {f.title}")
            lines += textwrap.wrap(
                f.detail, _WRAP, initial_indent="      ", subsequent_indent="      "
            )
    else:
        lines.append("Findings: none. Nothing here crossed a threshold.")
    return "\n".join(lines) + "\n"


def _stats(stats: Stats | None) -> dict[str, float | int] | None:
    if stats is None:
        return None
    return {
        "count": stats.count,
        "mean": round(stats.mean, 3),
        "p50": round(stats.p50, 3),
        "p95": round(stats.p95, 3),
        "p99": round(stats.p99, 3),
    }


def to_json(summary: Summary, findings: list[Finding]) -> dict[str, Any]:
    """Operations, transactions, the slowest transaction's spans and the findings, as plain
    JSON types. Times are milliseconds."""
    slowest: dict[str, Any] | None = None
    if summary.slowest is not None:
        slow = summary.slowest
        slowest = {
            "name": slow.name,
            "trace_id": slow.trace_id,
            "duration_ms": round(slow.duration_ms, 3),
            "spans": [
                {
                    "name": s.name,
                    "span_id": s.span_id,
                    "parent_id": s.parent_id,
                    "phase": s.text(sc.STRIPE_PHASE),
                    "start_ms": round((s.start_ns - slow.root.start_ns) / 1e6, 3),
                    "duration_ms": round(s.duration_ms, 3),
                    "error": s.error,
                }
                for s in [slow.root, *slow.spans]
            ],
        }
    return {
        "version": JSON_VERSION,
        "spans": len(summary.spans),
        "operations": [
            {
                "name": o.name,
                "method": o.method,
                "url_template": o.template,
                "operation": o.operation,
                "count": o.count,
                "errors": o.errors,
                "retries": o.retries,
                "error_codes": o.error_codes,
                "duration_ms": _stats(o.duration),
                "phases_ms": {p: _stats(s) for p, s in o.phases.items()},
            }
            for o in summary.operations
        ],
        "transactions": [
            {
                "name": t.name,
                "count": t.count,
                "errors": t.errors,
                "duration_ms": _stats(t.duration),
                "phases_ms": {p: _stats(s) for p, s in t.phases.items()},
            }
            for t in summary.transactions
        ],
        "slowest_transaction": slowest,
        "findings": [dataclasses.asdict(f) for f in findings],
    }
