"""``stripe-otel``: the command line. Each command group lives in its own module.

Errors are one line on stderr and a non-zero exit code, never a traceback: exit 1 when the
work failed (validation problems, a vendor API error), 2 when the command was used wrongly
(a missing key or option).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stripe_otel.cli import _dashboards, _demo, _report


class UsageError(Exception):
    """The command cannot run as given (exit 2)."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="stripe-otel", description="stripe-otel: Stripe observability tools."
    )
    groups = top.add_subparsers(dest="group", required=True, metavar="COMMAND")
    _dashboards.register(groups)
    _report.register(groups)
    _demo.register(groups)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"stripe-otel: {exc}", file=sys.stderr)
        return 2
    except (_dashboards.DashboardError, _report.ReportError) as exc:
        print(f"stripe-otel: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
