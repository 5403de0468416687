"""Real spans to an OTLP/JSON lines file, the way the Collector's file exporter writes them.

The SDK's protobuf encoder + protobuf's JSON mapping give the OTLP/JSON document except for
the ids, which protobuf's mapping writes as base64 and OTLP/JSON requires as hex.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def otlp_dict(spans: Sequence[ReadableSpan], hex_ids: bool = True) -> dict[str, Any]:
    document: dict[str, Any] = MessageToDict(encode_spans(spans))
    if hex_ids:
        for resource in document.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    for key in _ID_KEYS:
                        if key in span:
                            span[key] = base64.b64decode(span[key]).hex()
    return document


def write_otlp(
    spans: Sequence[ReadableSpan], path: Path, per_line: int = 40, hex_ids: bool = True
) -> Path:
    """One export request per *per_line* spans, one per line, as batching exporters do."""
    with path.open("w") as out:
        for i in range(0, len(spans), per_line):
            out.write(json.dumps(otlp_dict(spans[i : i + per_line], hex_ids)) + "\n")
    return path
