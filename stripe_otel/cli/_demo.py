"""``stripe-otel demo``: a checkout workload against a local Stripe stand-in, then the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]

_INSTALL = 'pip install "stripe-otel[demo]"'


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = groups.add_parser(
        "demo",
        help="run a checkout workload and show where each payment's time went",
        description=(
            "Run checkouts (create + confirm a PaymentIntent, write the order to SQLite, "
            "verify the webhook) against a local Stripe stand-in on 127.0.0.1 with "
            "realistic latency, or against Stripe's test mode when STRIPE_API_KEY=sk_test_... "
            "is set; then print the report. Spans also go to Honeycomb (HONEYCOMB_API_KEY) "
            "or Datadog (DD_API_KEY / DD_TRACE_AGENT_URL) when configured."
        ),
    )
    demo.add_argument(
        "--transactions",
        type=_positive,
        default=200,
        metavar="N",
        help="checkouts to run (default 200)",
    )
    demo.add_argument(
        "--concurrency",
        type=_positive,
        default=8,
        metavar="C",
        help="checkouts at a time, one thread each (default 8)",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("stripe-otel-demo"),
        metavar="DIR",
        help="where every output goes (default ./stripe-otel-demo/)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=None,
        help="picks the declined and troubled checkouts (default: random)",
    )
    demo.add_argument(
        "--no-tls",
        dest="tls",
        action="store_false",
        help="plain HTTP to the stand-in (hides the round trip)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from stripe_otel.cli import UsageError  # noqa: PLC0415 - avoids an import cycle

    try:
        # Imported here: the demo needs the SDK, stripe and the demo extra; the rest of
        # the command line must work without them.
        from stripe_otel.demo import (  # noqa: PLC0415
            DemoError,
            DemoOptions,
            DemoUsageError,
            render_result,
            run_demo,
        )
    except ImportError as exc:
        print(f"stripe-otel: the demo needs {exc.name}: {_INSTALL}", file=sys.stderr)
        return 1
    options = DemoOptions(
        transactions=args.transactions,
        concurrency=args.concurrency,
        out=args.out,
        seed=args.seed,
        tls=args.tls,
        quiet=args.quiet,
    )
    try:
        result = run_demo(options, sys.stderr)
    except DemoUsageError as exc:
        raise UsageError(str(exc)) from None
    except DemoError as exc:
        print(f"stripe-otel: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render_result(result))
    return 0
