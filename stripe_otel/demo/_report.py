"""The end of a run: ``stripe-otel report``'s table, findings and charts, from spans.jsonl.

The demo reads back the file it wrote, exactly as ``stripe-otel report`` would, so what it
shows is what anyone gets from their own spans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from stripe_otel import report
from stripe_otel.demo._errors import DemoError

__all__ = ["SUMMARY", "Report", "build_report"]

SUMMARY = "summary.json"


@dataclass
class Report:
    text: str = ""
    charts: list[Path] = field(default_factory=list)
    summary_path: Path | None = None
    notes: list[str] = field(default_factory=list)


def build_report(spans_path: Path, out_dir: Path) -> Report:
    """Summarise *spans_path*; write summary.json and the charts into *out_dir*."""
    try:
        summary = report.summarize(report.load(spans_path))
    except report.ReportError as exc:
        raise DemoError(f"cannot read back {spans_path}: {exc}") from None
    found = report.findings(summary)
    result = Report(text=report.render_text(summary, found))
    result.summary_path = out_dir / SUMMARY
    document = report.to_json(summary, found)
    result.summary_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    try:
        result.charts = report.write_charts(summary, out_dir)
    except report.ReportError as exc:
        # Without matplotlib (or a writable directory) the table and findings still stand.
        result.notes.append(f"no charts: {exc}")
    return result
