"""Spans to a local file, one OTLP/JSON ``ExportTraceServiceRequest`` per line.

The same format the OpenTelemetry Collector's file exporter writes, so ``stripe-otel
report`` reads either, and any OTLP tool can read ours. OTLP/JSON wants trace and span ids
as hex strings (protobuf's JSON mapping would write base64), which is fixed up here.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from stripe_otel._guard import report

__all__ = ["OtlpJsonFileExporter"]

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key in _ID_KEYS:
            value = node.get(key)
            if isinstance(value, str) and value:
                node[key] = base64.b64decode(value).hex()
        for child in node.values():
            _hex_ids(child)
    elif isinstance(node, list):
        for child in node:
            _hex_ids(child)


def to_json_line(spans: Sequence[ReadableSpan]) -> str:
    """One OTLP/JSON line for *spans*."""
    data = MessageToDict(encode_spans(spans))
    _hex_ids(data)
    return json.dumps(data, separators=(",", ":"))


class OtlpJsonFileExporter(SpanExporter):
    """Appends each exported batch to *path* as one OTLP/JSON line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            line = to_json_line(spans)
            with self._lock:
                self._file.write(line + "\n")
                self._file.flush()
        except Exception as exc:  # noqa: BLE001 - an exporter must not raise into the SDK
            report("file.export", exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()
