"""CPU and bytes per span of each export path, on the same recorded stripe-otel spans.

Records real spans (checkout calls, with retries and declines, against the Stripe test
server), then measures, on those same spans:

* encoding only (no network): our Datadog mapping + v0.5 / v0.4 msgpack; our Honeycomb
  path (``fit_span`` + the SDK's OTLP protobuf + gzip, as sent); the SDK's OTLP protobuf
  as its exporter sends it by default (no compression);
* the whole export (encode + HTTP to a loopback sink that answers 200): our
  DatadogAgentExporter, our Honeycomb exporter, and the SDK's OTLPSpanExporter, in
  batches of 512 as a BatchSpanProcessor hands them over.

CPU is the exporting thread's own CPU time (``time.thread_time``; the sink's threads do
not count), best of --repeat; bytes are what went on the wire.

    .venv/bin/python -m benchmarks.exporters [--spans 10000] [--repeat 7] [--json out.json]
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
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from stripe._http_client import HTTPClient

from benchmarks._common import report_out
from benchmarks._sink import Sink
from stripe_otel import StripeInstrumentor
from stripe_otel.exporters.datadog import DatadogAgentExporter
from stripe_otel.exporters.datadog._encoding import encode_v04, encode_v05
from stripe_otel.exporters.datadog._mapping import SpanMapper
from stripe_otel.exporters.honeycomb import fit_span, honeycomb_exporter
from stripe_otel.testing import Fault, StripeTestServer

_BATCH = 512  # the BatchSpanProcessor's default max_export_batch_size


def record_spans(count: int) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    StripeInstrumentor().instrument(tracer_provider=provider)
    # The SDK sleeps 0.5-5 s before a retry; the spans need only that a retry happened.
    initial_delay, max_delay = HTTPClient.INITIAL_DELAY, HTTPClient.MAX_DELAY
    HTTPClient.INITIAL_DELAY = 0.001
    HTTPClient.MAX_DELAY = 0.002  # type: ignore[assignment]
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
        HTTPClient.INITIAL_DELAY, HTTPClient.MAX_DELAY = initial_delay, max_delay
        StripeInstrumentor().uninstrument()
    return list(memory.get_finished_spans())[:count]


def by_trace(spans: Sequence[ReadableSpan]) -> list[list[ReadableSpan]]:
    traces: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        assert span.context is not None
        traces[span.context.trace_id].append(span)
    return list(traces.values())


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The least CPU time of *repeat* runs of *work* on this thread, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.thread_time()
        result = work()
        best = min(best, time.thread_time() - start)
    return best, result


def _encoders(spans: list[ReadableSpan]) -> dict[str, Callable[[], bytes]]:
    traces = by_trace(spans)
    mapper = SpanMapper()

    def datadog(encode: Callable[[Any], bytes]) -> Callable[[], bytes]:
        return lambda: encode([mapper.map_chunk(trace) for trace in traces])

    def honeycomb() -> bytes:
        fitted = [fit_span(span) for span in spans]
        return gzip.compress(encode_spans(fitted).SerializeToString(), compresslevel=6)

    return {
        "Datadog native (ours): map + v0.5 msgpack": datadog(encode_v05),
        "Datadog native (ours): map + v0.4 msgpack": datadog(encode_v04),
        "Honeycomb OTLP (ours): fit_span + protobuf + gzip": honeycomb,
        "SDK OTLP exporter: protobuf (its default, uncompressed)": lambda: encode_spans(
            spans
        ).SerializeToString(),
    }


def _exporters(url: str) -> dict[str, Callable[[], SpanExporter]]:
    return {
        "DatadogAgentExporter (ours), v0.5": lambda: DatadogAgentExporter(agent_url=url),
        "HoneycombSpanExporter (ours), OTLP/HTTP gzip": lambda: honeycomb_exporter(
            endpoint=url, protocol="http/protobuf", api_key="bench"
        ),
        "SDK OTLPSpanExporter, OTLP/HTTP uncompressed": lambda: OTLPSpanExporter(
            endpoint=f"{url}/v1/traces", compression=Compression.NoCompression
        ),
    }


def _export_all(exporter: SpanExporter, spans: list[ReadableSpan]) -> None:
    for index in range(0, len(spans), _BATCH):
        exporter.export(spans[index : index + _BATCH])
    exporter.force_flush()  # the Datadog exporter may still hold trace tails


def run(count: int, repeat: int) -> dict[str, Any]:
    spans = record_spans(count)
    rows: dict[str, Any] = {}
    for name, work in _encoders(spans).items():
        seconds, payload = best_of(repeat, work)
        rows[name] = {
            "what": "encode only",
            "cpu_us_per_span": round(seconds / len(spans) * 1e6, 2),
            "bytes_per_span": round(len(payload) / len(spans), 1),
        }
    with Sink() as sink:
        for name, make in _exporters(sink.url).items():
            exporter = make()
            try:
                _export_all(exporter, spans)  # warm up: connection, fallbacks, caches
                before = sink.bytes
                seconds, _ = best_of(repeat, lambda e=exporter: _export_all(e, spans))  # type: ignore[misc]
                sent = (sink.bytes - before) / repeat
            finally:
                exporter.shutdown()
            rows[name] = {
                "what": "export to a loopback sink",
                "cpu_us_per_span": round(seconds / len(spans) * 1e6, 2),
                "bytes_per_span": round(sent / len(spans), 1),
            }
    return {"spans": len(spans), "traces": len(by_trace(spans)), "repeat": repeat, "paths": rows}


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['spans']} recorded spans in {summary['traces']} traces, "
        f"best of {summary['repeat']}, CPU of the exporting thread:",
        "",
        "| export path | measured | CPU µs/span | bytes/span |",
        "|---|---|---|---|",
    ]
    for name, row in summary["paths"].items():
        lines.append(
            f"| {name} | {row['what']} | {row['cpu_us_per_span']} | {row['bytes_per_span']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", help="also write the summary as JSON to this file")
    args = parser.parse_args()
    summary = run(args.spans, args.repeat)
    report_out(summary, markdown, args.json)


if __name__ == "__main__":
    main()
