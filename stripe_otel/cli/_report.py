"""``stripe-otel report FILE [--png DIR] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from stripe_otel import report
from stripe_otel.report import ReportError

__all__ = ["ReportError", "register"]


def run(args: argparse.Namespace) -> int:
    summary = report.summarize(report.load(args.file))
    found = report.findings(summary)
    # Charts first: if they cannot be written, the command fails before printing a report.
    written = report.write_charts(summary, args.png) if args.png else []
    if args.json:
        print(json.dumps(report.to_json(summary, found), indent=2))
    else:
        print(report.render_text(summary, found), end="")
    # With --json, stdout is the JSON document alone, so it can be piped to a parser.
    for path in written:
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def register(groups: Any) -> None:
    command = groups.add_parser(
        "report",
        help="where the time of Stripe calls went, from a file of spans",
        description="Read OTLP/JSON lines (the OpenTelemetry Collector's file exporter) and "
        "print p50/p95/p99 per operation and transaction split by phase, with advice.",
    )
    command.add_argument("file", metavar="FILE", help="OTLP/JSON lines file of spans")
    command.add_argument(
        "--png",
        metavar="DIR",
        help="also write phases.png and slowest-transaction.png into DIR (needs matplotlib)",
    )
    command.add_argument("--json", action="store_true", help="print a JSON summary instead")
    command.set_defaults(run=run)
