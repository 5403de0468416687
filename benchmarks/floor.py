"""Where a Stripe call's instrumentation time goes: the OpenTelemetry SDK's floor, and ours.

One call is made with full instrumentation into in-memory sinks to count what it makes
the SDK do: spans (with their attributes) and metric records. Then the SDK alone is timed
doing exactly that - the same spans, names, kinds and attributes, started and ended
through a BatchSpanProcessor to a discarding exporter, and as many histogram records -
with no Stripe call and none of our code. That is the floor: what any instrumentation
emitting this telemetry through the SDK pays. Bare and fully instrumented calls are timed
interleaved as in overhead.py; what is left after taking out the floor is stripe-otel's
own code (hooks, timing, attribute building) plus the garbage collector's share and the
SDK's own code running cold. A sampling profile of the same calls then splits the time in
place between the call itself, the SDK and stripe-otel.

    .venv/bin/python -m benchmarks.floor [--transport requests|httpx] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import stripe
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks._common import DiscardingExporter, machine, providers, report_out, stripe_server
from stripe_otel import StripeInstrumentor, semconv

_KINDS = {kind.name: kind for kind in trace.SpanKind}


def _records(reader: InMemoryMetricReader) -> int:
    """Measurements recorded so far: a histogram point's count, a counter point's value."""
    data = reader.get_metrics_data()
    total = 0
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    count = getattr(point, "count", None)
                    total += int(count if count is not None else getattr(point, "value", 0))
    return total


def produced_per_call(call: Callable[[], Any]) -> dict[str, Any]:
    """The spans and metric records one sampled, fully instrumented call makes."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    StripeInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    try:
        call()  # caches warm, connection open
        exporter.clear()
        before = _records(reader)
        call()
        spans = exporter.get_finished_spans()
        records = _records(reader) - before
    finally:
        StripeInstrumentor().uninstrument()
    ordered = sorted(spans, key=lambda s: s.start_time or 0)  # the operation first
    return {
        "spans": [
            {"name": s.name, "kind": s.kind.name, "attributes": dict(s.attributes or {})}
            for s in ordered
        ],
        "metric_records": records,
    }


def _median_us(work: Callable[[], None], number: int, repeat: int = 7) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            work()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def sdk_floor(produced: dict[str, Any], number: int = 3000) -> dict[str, float]:
    """The SDK alone doing what one call makes it do (µs): spans, then metric records."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
    tracer = tracer_provider.get_tracer(semconv.INSTRUMENTATION_NAME)
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("floor")
    histogram = meter.create_histogram("floor.duration", unit="s")
    root, *children = produced["spans"]
    labels: dict[str, str | int] = {
        semconv.HTTP_REQUEST_METHOD: "GET",
        semconv.URL_TEMPLATE: "/v1/customers/{customer}",
        semconv.HTTP_RESPONSE_STATUS_CODE: 200,
        semconv.STRIPE_PHASE: "network",
    }

    def spans() -> None:
        operation = tracer.start_span(
            root["name"], kind=_KINDS[root["kind"]], attributes=root["attributes"]
        )
        parent = trace.set_span_in_context(operation)
        for child in children:
            tracer.start_span(
                child["name"],
                context=parent,
                kind=_KINDS[child["kind"]],
                attributes=child["attributes"],
            ).end()
        operation.end()

    def records() -> None:
        for _ in range(produced["metric_records"]):
            histogram.record(0.001, labels)

    spans_us, records_us = _median_us(spans, number), _median_us(records, number)
    tracer_provider.shutdown()
    return {"spans_us": round(spans_us, 1), "metric_records_us": round(records_us, 1)}


def per_call_us(call: Callable[[], Any], blocks: int, calls: int) -> dict[str, float]:
    """Median µs per call, bare and fully instrumented, interleaved in blocks."""
    samples: dict[str, list[float]] = {"bare": [], "full": []}
    for _ in range(blocks):
        for name, times in samples.items():
            if name == "full":
                StripeInstrumentor().instrument(**providers())
            try:
                call()
                start = time.perf_counter()
                for _ in range(calls):
                    call()
                times.append((time.perf_counter() - start) / calls * 1e6)
            finally:
                if name == "full":
                    StripeInstrumentor().uninstrument()
    return {name: round(statistics.median(values), 1) for name, values in samples.items()}


# --- in place: a sampling profile of instrumented calls ---------------------------------
# The floor above is the SDK in a tight loop (warm caches): a lower bound. In a real call
# its code runs cold, between the stripe SDK's and the HTTP library's, and allocates what
# the garbage collector must later scan. A sampling profiler (pyinstrument) shows where the
# time goes in place: each sample's frame is charged to the OpenTelemetry SDK, to
# stripe-otel, or to the call itself (stripe, the HTTP library, the wait for the server),
# with standard-library and built-in frames charged to whoever called them.

_OURS, _SDK, _CALL = "stripe-otel", "OpenTelemetry SDK", "the call itself"


# Standard-library modules that do the HTTP exchange itself (our transport hooks wrap
# http.client, so without this the wait for the server would be charged to us).
_NETWORK_STDLIB = ("/http/", "/socket.py", "/ssl.py", "/selectors.py", "/email/", "/json/")


def _owner(file_path: str | None, inherited: str) -> str:
    if file_path and any(part in file_path for part in _NETWORK_STDLIB):
        return _CALL
    if not file_path or ("site-packages" not in file_path and "/stripe_otel/" not in file_path):
        # A built-in, the rest of the standard library, or this benchmark's loop: the
        # caller's (a lock taken by the SDK is the SDK's).
        return inherited
    if "/stripe_otel/" in file_path or "/wrapt/" in file_path:
        return _OURS  # wrapt's wrappers exist only for our patches here
    if "/opentelemetry/" in file_path:
        return _SDK
    return _CALL


def profile_split(call: Callable[[], Any], calls: int) -> dict[str, float]:
    """Share of an instrumented call's wall time spent in each owner's code, in %."""
    from pyinstrument import Profiler

    StripeInstrumentor().instrument(**providers())
    try:
        for _ in range(100):
            call()
        profiler = Profiler(interval=0.0001)
        profiler.start()
        for _ in range(calls):
            call()
        profiler.stop()
    finally:
        StripeInstrumentor().uninstrument()
    totals = dict.fromkeys((_CALL, _SDK, _OURS), 0.0)
    session = profiler.last_session
    stack = [(session.root_frame() if session else None, _CALL)]
    while stack:
        frame, inherited = stack.pop()
        if frame is None:
            continue
        owner = _owner(frame.file_path, inherited)
        totals[owner] += frame.total_self_time
        stack.extend((child, owner) for child in frame.children)
    whole = sum(totals.values()) or 1.0
    return {owner: round(100 * seconds / whole, 1) for owner, seconds in totals.items()}


def run(transport: str, blocks: int, calls: int) -> dict[str, Any]:
    with stripe_server() as url:
        client = stripe.StripeClient(
            "sk_test_benchmark",
            base_addresses={"api": url},
            http_client=stripe.RequestsClient()
            if transport == "requests"
            else stripe.HTTPXClient(allow_sync_methods=True),
        )
        customer = client.v1.customers.create()

        def call() -> None:
            client.v1.customers.retrieve(customer.id)

        produced = produced_per_call(call)
        timings = per_call_us(call, blocks, calls)
        split = profile_split(call, blocks * calls)
    floor = sdk_floor(produced)
    overhead = timings["full"] - timings["bare"]
    floor_us = floor["spans_us"] + floor["metric_records_us"]
    spans: Sequence[dict[str, Any]] = produced["spans"]
    return {
        "transport": transport,
        "machine": machine(),
        "bare_us": timings["bare"],
        "full_us": timings["full"],
        "overhead_us": round(overhead, 1),
        "spans_per_call": len(spans),
        "attributes_per_call": sum(len(s["attributes"]) for s in spans),
        "metric_records_per_call": produced["metric_records"],
        "sdk_spans_us": floor["spans_us"],
        "sdk_metric_records_us": floor["metric_records_us"],
        "sdk_floor_us": round(floor_us, 1),
        "ours_us": round(overhead - floor_us, 1),
        "floor_ratio": round((timings["bare"] + floor_us) / timings["bare"], 3),
        "full_ratio": round(timings["full"] / timings["bare"], 3),
        "profile_percent": split,
        "profile_us": {
            owner: round(pct / 100 * timings["full"], 1) for owner, pct in split.items()
        },
    }


def markdown(summary: dict[str, Any]) -> str:
    s = summary
    return "\n".join(
        [
            f"Transport {s['transport']}, sync: one call makes {s['spans_per_call']} spans "
            f"with {s['attributes_per_call']} attributes and {s['metric_records_per_call']} "
            "metric records.",
            "",
            "| | µs per call | x bare |",
            "|---|---|---|",
            f"| bare call | {s['bare_us']} | 1.000 |",
            f"| full instrumentation | {s['full_us']} | {s['full_ratio']:.3f} |",
            f"| of which the SDK making those spans | {s['sdk_spans_us']} | |",
            f"| of which the SDK recording those metrics | {s['sdk_metric_records_us']} | |",
            f"| of which stripe-otel's own code (and GC) | {s['ours_us']} | |",
            f"| bare + SDK floor alone | {round(s['bare_us'] + s['sdk_floor_us'], 1)} "
            f"| {s['floor_ratio']:.3f} |",
            "",
            "In place (sampling profile of the instrumented calls; standard-library and built-in "
            "frames charged to their caller):",
            "",
            "| where | share of an instrumented call | µs per call |",
            "|---|---|---|",
            *(
                f"| {owner} | {pct}% | {s['profile_us'][owner]} |"
                for owner, pct in s["profile_percent"].items()
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--transport", choices=["requests", "httpx"], default="requests")
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    summary = run(args.transport, args.blocks, args.calls)
    report_out(summary, markdown, args.json)


if __name__ == "__main__":
    main()
