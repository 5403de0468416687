"""A telemetry receiver that goes down for 5 s and comes back, under a steady stream of
payment calls: does the outage reach the payment path, and is anything lost?

Full instrumentation exports through our Honeycomb exporter (OTLP/HTTP) to an
OtlpReceiver on 127.0.0.1. Payment calls (create + confirm a PaymentIntent in one call)
run at --rate per second through two windows of --window seconds: a baseline window with
the receiver up, then an outage window in which the receiver is down for --down seconds
(from 1 s in). Then the calls stop, the pipeline is flushed and we count what arrived.

Reported: p50/p99 call latency per window (and for the calls made while it was down),
spans produced vs delivered (distinct and duplicates), drops (ours, and the SDK queue's),
the exporter's backlog, RSS. With the default bounds nothing should be lost; with a small
--backlog-spans the excess is dropped and counted, and delivered + dropped == produced.
The exporter keeps its default timeout (10 s; --timeout to change): against a refused
connection the SDK's OTLP exporter retries with backoff within it, so one failed export
holds the BatchSpanProcessor for several seconds while its queue (4,096) fills.

    .venv/bin/python -m benchmarks.outage [--rate 100] [--window 10] [--down 5]
        [--backlog-spans 20000] [--json out.json]

The receiver runs in a child process (like a real backend, its decoding does not share
our GIL and what it keeps is not in our RSS); the Stripe test server runs in another.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import stripe

from benchmarks._common import percentile, report_out, rss_mib, stripe_server
from benchmarks._pipeline import Pipeline, pipeline, quiet_sdk_logs
from benchmarks._receiver_process import ReceiverProcess


def _pay(client: stripe.StripeClient) -> None:
    client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )


def _window(
    client: stripe.StripeClient, rate: float, seconds: float, rss: list[float]
) -> list[tuple[float, float]]:
    """Calls at *rate* per second for *seconds*: (start offset, latency) of each."""
    interval = 1 / rate
    began = time.perf_counter()
    calls: list[tuple[float, float]] = []
    next_at = began
    while (now := time.perf_counter()) - began < seconds:
        if now < next_at:
            time.sleep(next_at - now)
        start = time.perf_counter()
        _pay(client)
        calls.append((start - began, time.perf_counter() - start))
        next_at += interval
        if len(calls) % max(1, int(rate)) == 0:
            rss.append(rss_mib())
    return calls


def _latency(calls: list[tuple[float, float]]) -> dict[str, Any]:
    ms = [latency * 1e3 for _, latency in calls]
    if not ms:
        return {"calls": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "calls": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


def _settle(pipe: Pipeline, rx: ReceiverProcess, timeout: float) -> None:
    """Flush until everything produced is delivered or dropped, or *timeout* passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipe.provider.force_flush(2_000)
        accounted = rx.span_count() + sum(pipe.dropped().values()) + pipe.sdk_queue_drops()
        if accounted >= pipe.counter.ended and not any(pipe.backlog().values()):
            return
        time.sleep(0.2)


def run(
    rate: float,
    window: float,
    down: float,
    backlog_spans: int,
    timeout: float | None = None,
    queue_size: int = 4096,
) -> dict[str, Any]:
    rss: list[float] = []
    with ReceiverProcess() as rx, stripe_server() as url:
        client = stripe.StripeClient(
            "sk_test_benchmark", base_addresses={"api": url}, http_client=stripe.RequestsClient()
        )
        _pay(client)  # connection and caches warm before anything is measured
        rss_start = rss_mib()
        with pipeline(
            {"honeycomb": rx.http_endpoint},
            max_queue_size=queue_size,
            timeout=timeout,
            max_backlog_spans=backlog_spans,
        ) as pipe:
            baseline = _window(client, rate, window, rss)
            # The outage: down from 1 s into the window for *down* seconds, then up.
            went_down = threading.Timer(1.0, rx.down)
            came_up = threading.Timer(1.0 + down, rx.up)
            went_down.start()
            came_up.start()
            outage = _window(client, rate, window, rss)
            went_down.join()
            came_up.join()
            backlog_after_calls = pipe.backlog()
            _settle(pipe, rx, timeout=30)
            produced = pipe.counter.ended
            ids = rx.span_ids()
            dropped = pipe.dropped()
            dropped_metric = pipe.dropped_metric()
            queue_drops = pipe.sdk_queue_drops()
            backlog = pipe.backlog()
        pipe.provider.shutdown()
    while_down = [c for c in outage if 1.0 <= c[0] < 1.0 + down]
    delivered = len(ids)
    return {
        "rate_per_s": rate,
        "window_s": window,
        "down_s": down,
        "max_backlog_spans": backlog_spans,
        "exporter_timeout_s": timeout,
        "sdk_queue_size": queue_size,
        "latency": {
            "baseline": _latency(baseline),
            "outage window": _latency(outage),
            "while down": _latency(while_down),
        },
        "spans_produced": produced,
        "spans_delivered": delivered,
        "duplicates": sum(n - 1 for n in ids.values()),
        "dropped_by_exporter": dropped,
        "dropped_metric_total": dropped_metric,
        "dropped_in_sdk_queue": queue_drops,
        "unaccounted": produced - delivered - sum(dropped.values()) - queue_drops,
        "backlog_when_calls_stopped": backlog_after_calls,
        "backlog_at_end": backlog,
        "rss_start_mib": round(rss_start, 1),
        "rss_peak_mib": round(max(rss, default=rss_start), 1),
        "rss_end_mib": round(rss[-1] if rss else rss_start, 1),
    }


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"Payment calls at {summary['rate_per_s']:g}/s, two windows of "
        f"{summary['window_s']:g} s; in the second the receiver is down for "
        f"{summary['down_s']:g} s; exporter backlog bound {summary['max_backlog_spans']:,} "
        f"spans, exporter timeout {summary['exporter_timeout_s'] or 'default'}, SDK queue "
        f"{summary['sdk_queue_size']:,} spans.",
        "",
        "| window | calls | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for name, row in summary["latency"].items():
        lines.append(
            f"| {name} | {row['calls']} | {row['p50_ms']} | {row['p99_ms']} | {row['max_ms']} |"
        )
    dropped = ", ".join(f"{k}: {v:,}" for k, v in summary["dropped_by_exporter"].items())
    lines += [
        "",
        f"Spans produced {summary['spans_produced']:,}, delivered {summary['spans_delivered']:,}"
        f" (duplicates {summary['duplicates']}), dropped by the exporter "
        f"{dropped or 'none'} (metric: {summary['dropped_metric_total']:,}), dropped in the "
        f"SDK queue {summary['dropped_in_sdk_queue']:,}, unaccounted "
        f"{summary['unaccounted']:,}. Backlog when the calls stopped: "
        f"{summary['backlog_when_calls_stopped']}; at the end: {summary['backlog_at_end']}.",
        f"RSS start {summary['rss_start_mib']} MiB, peak {summary['rss_peak_mib']}, end "
        f"{summary['rss_end_mib']}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="payment calls per second")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per window")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the receiver is down")
    parser.add_argument("--backlog-spans", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, help="exporter timeout, s (default: its own)")
    parser.add_argument(
        "--queue-size", type=int, default=4096, help="the BatchSpanProcessor's max_queue_size"
    )
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    quiet_sdk_logs()
    summary = run(
        args.rate, args.window, args.down, args.backlog_spans, args.timeout, args.queue_size
    )
    report_out(summary, markdown, args.json)


if __name__ == "__main__":
    main()
