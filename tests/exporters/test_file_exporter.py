"""The OTLP/JSON lines file: one request per line, hex ids, readable by protobuf's parser."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from stripe_otel.exporters.file import OtlpJsonFileExporter


def test_one_line_per_export_with_hex_ids(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    exporter = OtlpJsonFileExporter(path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent") as parent:
        tracer.start_span("child", attributes={"stripe.num_retries": 2}).end()
    provider.shutdown()
    lines = path.read_text().splitlines()
    assert len(lines) == 2  # SimpleSpanProcessor: one export per span
    child = json.loads(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert child["name"] == "child"
    assert child["traceId"] == format(parent.get_span_context().trace_id, "032x")
    assert child["parentSpanId"] == format(parent.get_span_context().span_id, "016x")
    assert child["attributes"] == [{"key": "stripe.num_retries", "value": {"intValue": "2"}}]
    # Still valid OTLP/JSON for protobuf's own parser (which takes hex ids in OTLP/JSON
    # only with the collector's conventions; here we check the structure parses).
    request = json.loads(lines[1])
    for scope in request["resourceSpans"][0]["scopeSpans"]:
        for span in scope["spans"]:
            span.pop("traceId"), span.pop("spanId"), span.pop("parentSpanId", None)
    assert ParseDict(request, ExportTraceServiceRequest()).resource_spans


def test_export_after_shutdown_fails_without_raising(tmp_path: Path) -> None:
    exporter = OtlpJsonFileExporter(tmp_path / "x.jsonl")
    exporter.shutdown()
    assert exporter.export([]).name == "FAILURE"
