"""``stripe-otel report``: where the time of Stripe calls went, from a file of spans.

Reads OTLP/JSON lines (the Collector's file exporter, or
``stripe_otel.exporters.file.OtlpJsonFileExporter``) and answers with percentiles per
operation and transaction, split by phase, advice computed from the spans, and charts::

    from stripe_otel import report

    spans = report.load("traces.jsonl")
    summary = report.summarize(spans)
    found = report.findings(summary)
    print(report.render_text(summary, found))
    report.write_charts(summary, "out/")  # needs matplotlib (the ``demo`` extra)
"""

from stripe_otel.report._charts import write_charts
from stripe_otel.report._findings import findings
from stripe_otel.report._load import ReportError, SpanRecord, load
from stripe_otel.report._render import render_text, to_json
from stripe_otel.report._rules import Finding
from stripe_otel.report._summary import (
    OperationSummary,
    Stats,
    Summary,
    TransactionSummary,
    Waterfall,
    summarize,
)

__all__ = [
    "Finding",
    "OperationSummary",
    "ReportError",
    "SpanRecord",
    "Stats",
    "Summary",
    "TransactionSummary",
    "Waterfall",
    "findings",
    "load",
    "render_text",
    "summarize",
    "to_json",
    "write_charts",
]
