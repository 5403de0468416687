"""What the demo prints at the end: the report, the charts, the run, where the files are."""

from __future__ import annotations

import os
from pathlib import Path

from stripe_otel.demo._run import ORDERS, SPANS, DemoResult
from stripe_otel.demo._stack import ONE_WAY_MS, PROCESSING_MS

__all__ = ["render_result"]


def _shown(path: Path) -> str:
    """*path* relative to the working directory when it is inside it (shorter to read and
    to paste into the next command), absolute otherwise."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _stand_in(tls: bool) -> str:
    rtt = sum(ONE_WAY_MS)  # the mean one-way delay, twice
    processing = ", ".join(f"{label} {ms:.0f} ms" for label, _, _, ms in reversed(PROCESSING_MS))
    transport = "TLS" if tls else "plain HTTP"
    return (
        f"Stripe: the local stand-in on 127.0.0.1 ({transport}, ~{rtt:.0f} ms round trip, "
        f"processing: {processing}; occasional 500s, 429s and slow confirms)"
    )


def render_result(result: DemoResult) -> str:
    lines: list[str] = []
    report = result.report
    if report.text:
        lines += [report.text.rstrip("\n"), ""]
    if report.charts:
        lines.append("Charts:")
        lines += [f"  {_shown(path)}" for path in report.charts]
        lines.append("")
    tally = result.tally
    lines.append(
        f"{tally.done} checkouts in {result.seconds:.1f} s on seed {result.seed}: "
        f"{tally.ok} paid and recorded, {tally.declined} declined, {tally.failed} failed"
        + (f" ({', '.join(sorted(set(tally.errors)))})" if tally.errors else "")
        + "."
    )
    if result.mode == "local":
        lines.append(_stand_in(result.tls) + ".")
        if result.webhooks is not None:
            lines.append(f"Webhooks: {result.webhooks} verified of {tally.paid} payments.")
    else:
        lines.append("Stripe: your account's test mode (STRIPE_API_KEY).")
    if result.vendors:
        lines.append(f"Spans also went to {' and '.join(result.vendors)}.")
    lines += [f"Note: {note}" for note in result.notes + report.notes]
    lines.append("")
    written = [SPANS, ORDERS]
    if report.summary_path is not None:
        written.append(report.summary_path.name)
    written += [p.name for p in report.charts if p.parent == result.out]
    lines.append(f"Files are in {_shown(result.out)}{os.sep}: {', '.join(written)}")
    lines.append(
        f"  {result.orders} orders in {ORDERS}; the spans again: "
        f"stripe-otel report {_shown(result.out / SPANS)}"
    )
    return "\n".join(lines) + "\n"
