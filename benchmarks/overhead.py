"""What stripe-otel costs per Stripe call, as a ratio to the same call uninstrumented,
next to what other tracers of the same call cost.

The Stripe test server runs in its own process (so its CPU does not share our GIL) on
127.0.0.1 with zero delay and keep-alive: the worst case for relative overhead. The
configurations are interleaved in small blocks inside one process (instrument /
uninstrument between blocks), so machine drift hits all of them alike; we report the
median per-call time of each, its ratio to bare, and the spread of the per-block ratios
(each block against the bare block of the same round).

    .venv/bin/python -m benchmarks.overhead [--transport requests|httpx] [--mode sync|async]
        [--blocks 15] [--calls 200] [--no-peers] [--no-gc] [--json results.json]

Spans go through a BatchSpanProcessor to an exporter that discards them, so the cost is
the instrumentation's, not an exporter's. Peers (see peers.py): OpenTelemetry's httpx /
requests instrumentation alone and ddtrace's integration, for the transport that carries
the call. Async calls are stripe's ``*_async`` methods on one asyncio loop; stripe's
RequestsClient has no async transport and hands async calls to its HTTPX fallback, so
"requests async" is measured as it is: over httpx, with the httpx peers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import stripe

from benchmarks._common import Configuration, machine, report_out, stripe_server, telemetry
from benchmarks.peers import peers
from stripe_otel import StripeInstrumentor


def configurations() -> dict[str, Configuration]:
    """Our configurations, name -> Configuration. "bare" does nothing."""

    def ours(sampled: bool, **settings: Any) -> Configuration:
        kwargs, produced = telemetry(sampled)
        return Configuration(
            lambda: StripeInstrumentor().instrument(**kwargs, **settings),
            StripeInstrumentor().uninstrument,
            produced,
        )

    return {
        "bare": Configuration(lambda: None, lambda: None),
        "stripe-otel core (operation + attempts)": ours(True, phases=False, metrics=False),
        "stripe-otel full (+ phases + metrics)": ours(True),
        "stripe-otel full, not sampled": ours(False),
    }


def measure(
    call: Callable[[], Any], configs: dict[str, Configuration], blocks: int, calls: int
) -> dict[str, list[float]]:
    per_call_us: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(3):  # warm up connections, caches and the server
        call()
    for _ in range(blocks):
        for name, config in configs.items():
            config.on()
            try:
                call()  # the first call after (re)instrumenting is not measured
                start = time.perf_counter()
                for _ in range(calls):
                    call()
                per_call_us[name].append((time.perf_counter() - start) / calls * 1e6)
            finally:
                config.off()
    return per_call_us


async def measure_async(
    call: Callable[[], Awaitable[Any]],
    configs: dict[str, Configuration],
    blocks: int,
    calls: int,
) -> dict[str, list[float]]:
    """measure(), with each call awaited in turn on the running loop."""
    per_call_us: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(3):
        await call()
    for _ in range(blocks):
        for name, config in configs.items():
            config.on()
            try:
                await call()
                start = time.perf_counter()
                for _ in range(calls):
                    await call()
                per_call_us[name].append((time.perf_counter() - start) / calls * 1e6)
            finally:
                config.off()
    return per_call_us


def summarize(
    results: dict[str, list[float]],
    configs: dict[str, Configuration],
    calls_per_config: int,
) -> dict[str, Any]:
    """Median, ratio to bare, spread of per-block ratios, and spans per call, by name."""
    bare_blocks = results["bare"]
    bare = statistics.median(bare_blocks)
    rows: dict[str, Any] = {}
    for name, samples in results.items():
        median = statistics.median(samples)
        # Each block against the bare block of the same round: drift between rounds cancels.
        ratios = sorted(s / b for s, b in zip(samples, bare_blocks, strict=True))
        produced = configs[name].produced()
        rows[name] = {
            "median_us": round(median, 1),
            "added_us": round(median - bare, 1),
            "ratio_to_bare": round(median / bare, 3),
            "ratio_p10_p90": [
                round(ratios[len(ratios) // 10], 3),
                round(ratios[-1 - len(ratios) // 10], 3),
            ],
            "blocks": len(samples),
            "spans_per_call": None if produced is None else round(produced / calls_per_config, 2),
        }
    return rows


def _client(url: str, transport: str) -> stripe.StripeClient:
    if transport == "requests":
        # What StripeClient builds by default: requests for sync, HTTPX for async.
        http_client: stripe.HTTPClient = stripe.RequestsClient(
            async_fallback_client=stripe.HTTPXClient()
        )
    else:
        http_client = stripe.HTTPXClient(allow_sync_methods=True)
    return stripe.StripeClient(
        "sk_test_benchmark", base_addresses={"api": url}, http_client=http_client
    )


def run(
    transport: str, mode: str, blocks: int, calls: int, with_peers: bool = True
) -> dict[str, Any]:
    """One transport and mode, all configurations interleaved; the summary as a dict."""
    wire = "httpx" if transport == "httpx" or mode == "async" else "requests"
    configs = configurations()
    if with_peers:
        configs.update(peers(wire))
    with stripe_server() as url:
        client = _client(url, transport)
        customer = client.v1.customers.create()
        if mode == "sync":
            results = measure(
                lambda: client.v1.customers.retrieve(customer.id), configs, blocks, calls
            )
        else:
            results = asyncio.run(
                measure_async(
                    lambda: client.v1.customers.retrieve_async(customer.id),
                    configs,
                    blocks,
                    calls,
                )
            )
    note = (
        "stripe's RequestsClient sends async calls through its HTTPX fallback client: "
        "this is httpx on the wire, so the peers are the httpx ones"
        if transport == "requests" and mode == "async"
        else ""
    )
    return {
        "transport": transport,
        "mode": mode,
        "wire": wire,
        "note": note,
        "blocks": blocks,
        "calls_per_block": calls,
        "gc": gc.isenabled(),
        "results": summarize(results, configs, blocks * (calls + 1)),
    }


def markdown(summary: dict[str, Any]) -> str:
    title = f"{summary['transport']} {summary['mode']}"
    if summary["wire"] != summary["transport"]:
        title += f" (on the wire: {summary['wire']})"
    lines = [
        f"**{title}** — {summary['blocks']} blocks x {summary['calls_per_block']} calls, "
        f"gc {'on' if summary['gc'] else 'off'}",
        "",
    ]
    if summary["note"]:
        lines += [f"_{summary['note']}._", ""]
    lines += [
        "| configuration | median µs/call | added µs | x bare | spread (p10-p90 of blocks) "
        "| spans/call |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in summary["results"].items():
        low, high = row["ratio_p10_p90"]
        spans = "" if row["spans_per_call"] is None else f"{row['spans_per_call']:g}"
        lines.append(
            f"| {name} | {row['median_us']} | {row['added_us']:+} | "
            f"{row['ratio_to_bare']:.3f} | {low:.3f}-{high:.3f} | {spans} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--transport", choices=["requests", "httpx"], default="requests")
    parser.add_argument("--mode", choices=["sync", "async"], default="sync")
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-peers", action="store_true", help="only bare and stripe-otel")
    parser.add_argument(
        "--no-gc", action="store_true", help="disable the cyclic GC (to see its share of the cost)"
    )
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    summary = run(args.transport, args.mode, args.blocks, args.calls, not args.no_peers)
    summary["machine"] = machine()
    report_out(summary, markdown, args.json)


if __name__ == "__main__":
    main()
