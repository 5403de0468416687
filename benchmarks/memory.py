"""Memory with the telemetry backend unreachable: RSS every --every calls over --calls
Stripe calls, fully instrumented, exporting through our Honeycomb and Datadog exporters
to a port on 127.0.0.1 where nothing listens.

What must hold: RSS plateaus. Spans pile up in two bounded places, the SDK's
BatchSpanProcessor queue (4,096 spans, as configure() sets it; beyond it the SDK drops
and counts) and each exporter's retry backlog (20,000 spans / 32 MiB, then the oldest
batches are dropped and counted in dropped_counts() and the dropped-spans metric).
Once both are full, RSS should stop growing. The exporters' timeout is 1 s (--timeout):
against a refused connection the SDK's OTLP exporter retries with backoff for as long as
its timeout allows, so with the default 10 s each failed export takes ~7 s and the
backlog would need far more than 100,000 calls to reach its bound.

    .venv/bin/python -m benchmarks.memory [--calls 100000] [--every 10000]
        [--exporters honeycomb,datadog] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

import stripe

from benchmarks._common import free_port, report_out, rss_mib, stripe_server
from benchmarks._pipeline import pipeline, quiet_sdk_logs


def run(calls: int, every: int, vendors: list[str], timeout: float = 1.0) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens
    samples: list[dict[str, Any]] = []
    with stripe_server() as url:
        client = stripe.StripeClient(
            "sk_test_benchmark", base_addresses={"api": url}, http_client=stripe.RequestsClient()
        )
        customer = client.v1.customers.create()
        gc.collect()
        rss_start = rss_mib()
        started = time.perf_counter()
        with pipeline(dict.fromkeys(vendors, dead), timeout=timeout) as pipe:
            done = 0
            while done < calls:
                batch = min(every, calls - done)
                latencies = []
                for _ in range(batch):
                    t0 = time.perf_counter()
                    client.v1.customers.retrieve(customer.id)
                    latencies.append(time.perf_counter() - t0)
                done += batch
                samples.append({
                    "calls": done,
                    "rss_mib": round(rss_mib(), 1),
                    "median_call_us": round(statistics.median(latencies) * 1e6, 1),
                    "spans_produced": pipe.counter.ended,
                    "backlog_spans": pipe.backlog(),
                    "dropped_by_exporters": sum(pipe.dropped().values()),
                    "dropped_in_sdk_queue": pipe.sdk_queue_drops(),
                })  # fmt: skip
            elapsed = time.perf_counter() - started
            dropped = pipe.dropped()
            dropped_metric = pipe.dropped_metric()
            produced = pipe.counter.ended
            queue_drops = pipe.sdk_queue_drops()
            backlog = pipe.backlog()
        # Shutting down tries the dead backend once more; what it cannot send is dropped.
        pipe.provider.shutdown()
    rss = [s["rss_mib"] for s in samples]
    half = samples[(len(samples) - 1) // 2]["rss_mib"]
    return {
        "calls": calls,
        "every": every,
        "exporters": vendors,
        "endpoint": dead + " (nothing listening)",
        "exporter_timeout_s": timeout,
        "seconds": round(elapsed, 1),
        "rss_start_mib": round(rss_start, 1),
        "rss_after_first_sample_mib": rss[0],
        "rss_peak_mib": max(rss),
        "rss_end_mib": rss[-1],
        "growth_second_half_mib": round(rss[-1] - half, 1),
        "spans_produced": produced,
        "dropped_by_exporters": dropped,
        "dropped_metric_total": dropped_metric,
        "dropped_in_sdk_queue": queue_drops,
        "backlog_at_end": backlog,
        "samples": samples,
    }


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['calls']:,} calls, exporters {', '.join(summary['exporters'])} -> "
        f"{summary['endpoint']}, exporter timeout {summary['exporter_timeout_s']:g} s, "
        f"{summary['seconds']} s:",
        "",
        "Each exporter has its own BatchSpanProcessor and is handed every span, so drops "
        "are summed over both exporters and can exceed the spans produced.",
        "",
        "| calls | RSS MiB | median µs/call | spans produced | backlog | dropped (ours) "
        "| dropped (SDK queues) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary["samples"]:
        backlog = ", ".join(f"{k} {v:,}" for k, v in s["backlog_spans"].items())
        lines.append(
            f"| {s['calls']:,} | {s['rss_mib']} | {s['median_call_us']} | "
            f"{s['spans_produced']:,} | {backlog} | {s['dropped_by_exporters']:,} | "
            f"{s['dropped_in_sdk_queue']:,} |"
        )
    dropped = ", ".join(f"{k}: {v:,}" for k, v in summary["dropped_by_exporters"].items())
    lines += [
        "",
        f"RSS start {summary['rss_start_mib']} MiB, peak {summary['rss_peak_mib']}, end "
        f"{summary['rss_end_mib']}; growth over the second half "
        f"{summary['growth_second_half_mib']:+} MiB.",
        f"Dropped by our exporters (dropped_counts): {dropped or 'none'}; the dropped-spans "
        f"metric says {summary['dropped_metric_total']:,}. Dropped by the SDK's queues: "
        f"{summary['dropped_in_sdk_queue']:,}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--exporters", default="honeycomb,datadog")
    parser.add_argument("--timeout", type=float, default=1.0, help="exporters' timeout, s")
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    quiet_sdk_logs()
    summary = run(args.calls, args.every, args.exporters.split(","), args.timeout)
    report_out(summary, markdown, args.json)


if __name__ == "__main__":
    main()
