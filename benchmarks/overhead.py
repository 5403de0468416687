"""What stripe-otel costs per Stripe call, as a ratio to the same call uninstrumented.

The Stripe test server runs in its own process (so its CPU does not share our GIL) on
127.0.0.1 with zero delay and keep-alive: the worst case for relative overhead. The
configurations are interleaved in small blocks inside one process (instrument /
uninstrument between blocks), so machine drift hits all of them alike; we report the
median per-call time of each and its ratio to bare, with the spread across blocks.

    .venv/bin/python -m benchmarks.overhead [--transport requests|httpx] [--blocks 15]
        [--calls 200] [--no-gc] [--json results.json]

Spans go through a BatchSpanProcessor to an exporter that discards them, so the cost is
the instrumentation's, not an exporter's; one configuration uses a SimpleSpanProcessor
instead, to show what holding spans in a batch costs.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import stripe
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from stripe_otel import StripeInstrumentor


class DiscardingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def stripe_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_otel.testing", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening" in line, line
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _providers(sampled: bool, processor: str = "batch") -> dict[str, Any]:
    tracer_provider = TracerProvider(sampler=None if sampled else ALWAYS_OFF)
    if processor == "batch":
        tracer_provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
    else:
        tracer_provider.add_span_processor(SimpleSpanProcessor(DiscardingExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}


Configuration = tuple[Callable[[], None], Callable[[], None]]


def configurations() -> dict[str, Configuration]:
    """Name -> (turn on, turn off). "bare" does nothing."""
    full, unsampled, core = _providers(True), _providers(False), _providers(True)
    simple = _providers(True, processor="simple")

    def instrument(**kwargs: Any) -> Callable[[], None]:
        return lambda: StripeInstrumentor().instrument(**kwargs)

    off = StripeInstrumentor().uninstrument
    return {
        "bare": (lambda: None, lambda: None),
        "core (operation + attempts)": (instrument(**core, phases=False, metrics=False), off),
        "full (+ phases + metrics)": (instrument(**full), off),
        "full, not sampled": (instrument(**unsampled), off),
        # Same spans, but each handed to the exporter at once instead of held in a batch:
        # the difference is what holding spans costs (allocation and GC pressure).
        "full, SimpleSpanProcessor": (instrument(**simple), off),
    }


def measure(
    call: Callable[[], Any], configs: dict[str, Configuration], blocks: int, calls: int
) -> dict[str, list[float]]:
    per_call_us: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(3):  # warm up connections, caches and the server
        call()
    for _ in range(blocks):
        for name, (on, off) in configs.items():
            on()
            try:
                call()  # first call after (re)instrumenting is not measured
                start = time.perf_counter()
                for _ in range(calls):
                    call()
                per_call_us[name].append((time.perf_counter() - start) / calls * 1e6)
            finally:
                off()
    return per_call_us


def report(results: dict[str, list[float]], transport: str) -> dict[str, Any]:
    bare = statistics.median(results["bare"])
    rows = {}
    for name, samples in results.items():
        median = statistics.median(samples)
        ratios = sorted(s / bare for s in samples)
        rows[name] = {
            "median_us": round(median, 1),
            "ratio_to_bare": round(median / bare, 3),
            "ratio_p10_p90": [
                round(ratios[len(ratios) // 10], 3),
                round(ratios[-1 - len(ratios) // 10], 3),
            ],
        }
    return {
        "transport": transport,
        "gc": gc.isenabled(),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "results": rows,
    }


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"Transport: {summary['transport']}, gc {'on' if summary['gc'] else 'off'}"
        f" — {summary['machine']}",
        "",
        "| configuration | median µs/call | x bare | spread (p10-p90 of blocks) |",
        "|---|---|---|---|",
    ]
    for name, row in summary["results"].items():
        low, high = row["ratio_p10_p90"]
        lines.append(
            f"| {name} | {row['median_us']} | {row['ratio_to_bare']:.3f} | {low:.3f}-{high:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", choices=["requests", "httpx"], default="requests")
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--no-gc", action="store_true", help="disable the cyclic GC (to see its share of the cost)"
    )
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    with stripe_server() as url:
        client = stripe.StripeClient(
            "sk_test_benchmark",
            base_addresses={"api": url},
            http_client=stripe.RequestsClient()
            if args.transport == "requests"
            else stripe.HTTPXClient(allow_sync_methods=True),
        )
        customer = client.v1.customers.create()
        results = measure(
            lambda: client.v1.customers.retrieve(customer.id),
            configurations(),
            args.blocks,
            args.calls,
        )
    summary = report(results, args.transport)
    print(markdown(summary))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=2)


if __name__ == "__main__":
    main()
