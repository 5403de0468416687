"""CPU and bytes per span of each export path, on the same recorded stripe-otel spans.

Records real spans (checkout calls, with retries and declines, against the Stripe test
server), then times encoding them: our Datadog mapping + v0.5 and v0.4 msgpack, and the
OpenTelemetry SDK's OTLP protobuf encoding (what the Honeycomb and Datadog-OTLP paths
send), raw and gzipped. Encoding only: no network.

    .venv/bin/python -m benchmarks.exporters [--spans 10000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import stripe
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stripe_otel import StripeInstrumentor
from stripe_otel.exporters.datadog._encoding import encode_v04, encode_v05
from stripe_otel.exporters.datadog._mapping import SpanMapper
from stripe_otel.testing import Fault, StripeTestServer


def record_spans(count: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    StripeInstrumentor().instrument(tracer_provider=provider)
    try:
        with StripeTestServer() as server:
            client = stripe.StripeClient(
                "sk_test_benchmark", base_addresses={"api": server.url}, max_network_retries=2
            )
            while len(memory.get_finished_spans()) < count:
                server.add_fault(Fault(status=500, count=1))
                intent = client.v1.payment_intents.create(
                    params={"amount": 2000, "currency": "usd"}
                )
                client.v1.payment_intents.confirm(
                    intent.id, params={"payment_method": "pm_card_visa"}
                )
                with contextlib.suppress(stripe.CardError):
                    client.v1.payment_intents.create(
                        params={
                            "amount": 2000,
                            "currency": "usd",
                            "payment_method": "pm_card_chargeDeclined",
                            "confirm": True,
                        }
                    )
    finally:
        StripeInstrumentor().uninstrument()
    return list(memory.get_finished_spans())[:count]


def by_trace(spans: Sequence[ReadableSpan]) -> list[list[ReadableSpan]]:
    traces: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        assert span.context is not None
        traces[span.context.trace_id].append(span)
    return list(traces.values())


def best_of(repeat: int, work: Callable[[], bytes]) -> tuple[float, bytes]:
    best, payload = float("inf"), b""
    for _ in range(repeat):
        start = time.perf_counter()
        payload = work()
        best = min(best, time.perf_counter() - start)
    return best, payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    spans = record_spans(args.spans)
    traces = by_trace(spans)
    mapper = SpanMapper()

    def datadog(encode: Callable[[Any], bytes]) -> Callable[[], bytes]:
        return lambda: encode([mapper.map_chunk(trace) for trace in traces])

    paths: dict[str, Callable[[], bytes]] = {
        "Datadog native: map + v0.5 msgpack": datadog(encode_v05),
        "Datadog native: map + v0.4 msgpack": datadog(encode_v04),
        "OTLP protobuf (SDK encoder)": lambda: encode_spans(spans).SerializeToString(),
        "OTLP protobuf + gzip (as sent)": lambda: gzip.compress(
            encode_spans(spans).SerializeToString(), compresslevel=6
        ),
    }
    print(f"{len(spans)} spans in {len(traces)} traces, best of {args.repeat}\n")
    print("| export path | CPU µs/span | bytes/span |")
    print("|---|---|---|")
    for name, work in paths.items():
        seconds, payload = best_of(args.repeat, work)
        print(f"| {name} | {seconds / len(spans) * 1e6:.1f} | {len(payload) / len(spans):.0f} |")


if __name__ == "__main__":
    main()
