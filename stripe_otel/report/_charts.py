"""PNG charts: the phase breakdown per operation, and the slowest transaction's waterfall.

matplotlib is optional (the ``demo`` extra) and imported only here, when charts are asked
for. We draw on ``matplotlib.figure.Figure`` directly, never pyplot: no display, no global
backend switch, nothing left open between calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stripe_otel import semconv as sc
from stripe_otel.report._load import ReportError, SpanRecord
from stripe_otel.report._summary import (
    OPERATION_PHASES,
    PHASE_APP,
    TRANSACTION_PHASES,
    Summary,
    is_operation,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PHASES_PNG", "WATERFALL_PNG", "write_charts"]

PHASES_PNG = "phases.png"
WATERFALL_PNG = "slowest-transaction.png"
#: One colour per phase, the same in both charts (Tableau 10: tells apart in greyscale too).
COLORS = {
    sc.PHASE_NETWORK: "#4C78A8",
    sc.PHASE_API_PROCESSING: "#F58518",
    sc.PHASE_SDK_DECODE: "#54A24B",
    sc.PHASE_DB_WRITE: "#B279A2",
    PHASE_APP: "#BAB0AC",
}
LABELS = {
    sc.PHASE_NETWORK: "network",
    sc.PHASE_API_PROCESSING: "Stripe processing (est.)",
    sc.PHASE_SDK_DECODE: "SDK decode",
    sc.PHASE_DB_WRITE: "DB write",
    PHASE_APP: "app / SDK / backoff",
}
_OTHER = "#E0E0E0"  # spans that are none of the phases (a transaction, a DB read)
_MAX_ROWS = 40  # beyond this a chart stops being readable; the rest are counted
_ROW_INCHES = 0.38
_DPI = 120


def write_charts(summary: Summary, out_dir: str | Path) -> list[Path]:
    """Write ``phases.png`` and ``slowest-transaction.png`` into *out_dir* (created if
    needed); return their paths. Raises :class:`ReportError` without matplotlib."""
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ReportError(
            'charts need matplotlib: pip install "stripe-otel[demo]" (or matplotlib)'
        ) from None
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / PHASES_PNG, out / WATERFALL_PNG]
        _phases(Figure, summary).savefig(paths[0], dpi=_DPI)
        _waterfall(Figure, summary).savefig(paths[1], dpi=_DPI)
    except OSError as exc:
        raise ReportError(f"cannot write charts to {out}: {exc.strerror or exc}") from None
    return paths


def _empty(figure: type[Figure], message: str) -> Figure:
    fig = figure(figsize=(8, 2))
    fig.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def _phases(figure: type[Figure], summary: Summary) -> Figure:
    panels = [
        (
            "Stripe operations: mean ms per call, by phase",
            [
                (o.name, o.count, o.duration.mean, o.duration.p95, o.phases)
                for o in summary.operations
            ],
            list(OPERATION_PHASES),
        ),
        (
            "Transactions: mean ms, by phase",
            [
                (t.name, t.count, t.duration.mean, t.duration.p95, t.phases)
                for t in summary.transactions
            ],
            list(TRANSACTION_PHASES),
        ),
    ]
    panels = [(title, rows[:_MAX_ROWS], phases) for title, rows, phases in panels if rows]
    if not panels:
        return _empty(figure, "No Stripe operations or transactions in this file")
    heights = [len(rows) + 1.5 for _, rows, _ in panels]
    fig = figure(figsize=(12, 1.2 + _ROW_INCHES * sum(heights)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (title, rows, phases) in zip(axes, panels, strict=True):
        labels = [name for name, *_ in rows]
        for y, (_, count, mean, p95, stats) in enumerate(rows):
            left = 0.0
            for phase in phases:
                if phase in stats:
                    width = stats[phase].mean
                    ax.barh(y, width, left=left, color=COLORS[phase], height=0.7)
                    left += width
            if left == 0:  # phases not measured (an untimed transport): the whole call
                ax.barh(y, mean, color=_OTHER, height=0.7, hatch="//", edgecolor="#999999")
            ax.annotate(
                f" {mean:.1f} ms  (p95 {p95:.1f}, n={count})",
                (max(mean, left), y),
                va="center",
                fontsize=8,
            )
        ax.set_yticks(range(len(rows)), labels=labels, fontsize=9)
        ax.invert_yaxis()  # the biggest total first, at the top
        ax.set_xlim(0, max(r[2] for r in rows) * 1.35)
        ax.set_xlabel("milliseconds")
        ax.set_title(title, loc="left", fontsize=11)
    _legend(fig, list(TRANSACTION_PHASES) if len(panels) > 1 else panels[0][2])
    return fig


def _legend(fig: Figure, phases: list[str]) -> None:
    """One legend above the plots, outside them: inside, it hides the longest bars."""
    from matplotlib.patches import Patch  # noqa: PLC0415 - optional dependency

    handles = [Patch(color=COLORS[p], label=LABELS[p]) for p in phases]
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), fontsize=9)


def _rows(summary: Summary, root: SpanRecord) -> list[SpanRecord]:
    """The waterfall's rows: the root and its descendants, depth first, in start order.
    Attempt and phase spans are not rows: they are drawn inside their operation's row."""
    rows: list[SpanRecord] = []
    stack = [root]
    while stack:
        span = stack.pop()
        rows.append(span)
        if not is_operation(span):
            children = [c for c in summary.children(span) if not _inside_operation(c)]
            stack.extend(reversed(children))
    return rows


def _inside_operation(span: SpanRecord) -> bool:
    phase = span.text(sc.STRIPE_PHASE)
    return span.number(sc.STRIPE_ATTEMPT) is not None or phase in OPERATION_PHASES


def _segments(summary: Summary, op: SpanRecord) -> list[tuple[SpanRecord, str]]:
    """The phase spans of an operation: each attempt's network/processing/network, then
    decode."""
    found: list[tuple[SpanRecord, str]] = []
    for child in summary.children(op):
        for span in [child, *summary.children(child)]:
            phase = span.text(sc.STRIPE_PHASE)
            if phase in COLORS and phase != sc.PHASE_DB_WRITE:
                found.append((span, phase))
    return found


def _waterfall(figure: type[Figure], summary: Summary) -> Figure:
    slow = summary.slowest
    if slow is None:
        return _empty(figure, "No Stripe operations or transactions in this file")
    rows = _rows(summary, slow.root)
    hidden = max(len(rows) - _MAX_ROWS, 0)
    rows = rows[:_MAX_ROWS]
    fig = figure(figsize=(12, 1.9 + _ROW_INCHES * len(rows)), layout="constrained")
    ax = fig.subplots()
    start = slow.root.start_ns
    for y, span in enumerate(rows):
        left, width = (span.start_ns - start) / 1e6, span.duration_ms
        phase = span.text(sc.STRIPE_PHASE)
        if is_operation(span):
            ax.barh(y, width, left=left, color=COLORS[PHASE_APP], height=0.7)
            for part, part_phase in _segments(summary, span):
                ax.barh(
                    y,
                    part.duration_ms,
                    left=(part.start_ns - start) / 1e6,
                    color=COLORS[part_phase],
                    height=0.7,
                )
        else:
            color = COLORS[sc.PHASE_DB_WRITE] if phase == sc.PHASE_DB_WRITE else _OTHER
            ax.barh(y, width, left=left, color=color, height=0.7, edgecolor="#999999")
        mark = "  ERROR" if span.error else ""
        ax.annotate(f" {width:.1f} ms{mark}", (left + width, y), va="center", fontsize=8)
    labels = [_label(summary, span) for span in rows]
    ax.set_yticks(range(len(rows)), labels=labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, slow.duration_ms * 1.2)
    ax.set_xlabel("milliseconds since the transaction started")
    more = f"; {hidden} more spans not shown" if hidden else ""
    ax.set_title(
        f"Slowest: {slow.name}, {slow.duration_ms:.1f} ms (trace {slow.trace_id}{more})",
        loc="left",
        fontsize=11,
    )
    _legend(fig, list(TRANSACTION_PHASES))
    return fig


def _label(summary: Summary, span: SpanRecord) -> str:
    if not is_operation(span):
        return span.name
    attempts = sum(c.number(sc.STRIPE_ATTEMPT) is not None for c in summary.children(span))
    return f"{span.name} ({attempts} attempts)" if attempts > 1 else span.name
