"""Read OTLP/JSON trace files into flat span records.

Each line of the file is one OTLP/JSON ``ExportTraceServiceRequest``, as the OpenTelemetry
Collector's file exporter writes them. We accept what the different writers produce:
hex ids (the OTLP/JSON rule) or base64 ids (protobuf's generic JSON mapping), numbers as
strings or ints, span kinds and status codes as ints or enum names, camelCase or
snake_case field names. Anything we cannot read is a :class:`ReportError` naming the file
and line, so the CLI prints one line instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stripe_otel import semconv

__all__ = ["ReportError", "SpanRecord", "load"]

_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS_ERROR = 2
_NOT_STRIPE = "no Stripe spans found (is this stripe-otel output?)"
# Every stripe-otel attribute key starts with this; a span carrying one is ours even when
# a pipeline dropped the instrumentation scope.
_STRIPE_PREFIX = "stripe."


class ReportError(Exception):
    """The input cannot be reported on. ``str(error)`` is one line naming the file and,
    where it applies, the line number."""


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One span, flattened: ids are lower-case hex, times are Unix nanoseconds."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str  # "CLIENT", "INTERNAL", ... (the OTLP enum without its prefix)
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    error: bool = False
    service: str | None = None
    scope: str | None = None

    @property
    def duration_ms(self) -> float:
        return max(self.end_ns - self.start_ns, 0) / 1e6

    @property
    def is_stripe(self) -> bool:
        return self.scope == semconv.INSTRUMENTATION_NAME or any(
            key.startswith(_STRIPE_PREFIX) for key in self.attributes
        )

    def number(self, key: str) -> float | None:
        value = self.attributes.get(key)
        # bool is an int subclass; a boolean is never a measurement.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None

    def text(self, key: str) -> str | None:
        value = self.attributes.get(key)
        return value if isinstance(value, str) else None

    def flag(self, key: str) -> bool | None:
        value = self.attributes.get(key)
        return value if isinstance(value, bool) else None


def load(path: str | os.PathLike[str]) -> list[SpanRecord]:
    """Every span in the OTLP/JSON lines file at *path*; raises :class:`ReportError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = raw.splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise ReportError(f"{path}: empty file: {_NOT_STRIPE}")
    spans: list[SpanRecord] = []
    for lineno, line in numbered:
        try:
            document = json.loads(line)
        except ValueError:  # includes UnicodeDecodeError
            whole = _whole_file(raw) if lineno == numbered[0][0] else None
            if whole is None:
                raise ReportError(f"{path}: line {lineno}: not JSON") from None
            # One pretty-printed request (a hand-saved export) rather than JSON lines.
            spans = _request(whole, f"{path}")
            break
        spans.extend(_request(document, f"{path}: line {lineno}"))
    if not any(span.is_stripe for span in spans):
        raise ReportError(f"{path}: {_NOT_STRIPE}")
    return spans


def _whole_file(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _get(obj: Any, camel: str, default: Any = None) -> Any:
    """*camel* or its snake_case spelling (protobuf JSON parsers accept both)."""
    if not isinstance(obj, dict):
        raise TypeError(f"expected an object, got {type(obj).__name__}")
    if camel in obj:
        return obj[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return obj.get(snake, default)


def _request(document: Any, where: str) -> list[SpanRecord]:
    if not isinstance(document, dict):
        raise ReportError(f"{where}: not an OTLP trace export (a JSON {type(document).__name__})")
    resource_spans = _get(document, "resourceSpans")
    if resource_spans is None:
        other = next((k for k in ("resourceMetrics", "resourceLogs") if k in document), None)
        hint = f" (it has {other}: OTLP {other[8:].lower()}, not traces)" if other else ""
        raise ReportError(f"{where}: no resourceSpans{hint}")
    spans: list[SpanRecord] = []
    try:
        for resource_span in resource_spans:
            resource = _attributes(_get(_get(resource_span, "resource", {}), "attributes", []))
            service = resource.get("service.name")
            # "instrumentationLibrarySpans": the name before OTLP 0.15, still seen in old dumps.
            groups = _get(resource_span, "scopeSpans") or _get(
                resource_span, "instrumentationLibrarySpans", []
            )
            for group in groups:
                scope = _get(group, "scope") or _get(group, "instrumentationLibrary") or {}
                for span in _get(group, "spans", []):
                    spans.append(_span(span, service, _get(scope, "name")))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ReportError(f"{where}: malformed span data ({exc})") from None
    return spans


def _span(span: Any, service: Any, scope: Any) -> SpanRecord:
    status = _get(span, "status") or {}
    return SpanRecord(
        trace_id=_id(_get(span, "traceId"), 16),
        span_id=_id(_get(span, "spanId"), 8),
        parent_id=_parent(_get(span, "parentSpanId")),
        name=str(_get(span, "name", "")),
        kind=_kind(_get(span, "kind", 0)),
        start_ns=int(_get(span, "startTimeUnixNano", 0)),
        end_ns=int(_get(span, "endTimeUnixNano", 0)),
        attributes=_attributes(_get(span, "attributes", [])),
        error=_status_is_error(_get(status, "code", 0)),
        service=service if isinstance(service, str) else None,
        scope=scope if isinstance(scope, str) else None,
    )


def _id(value: Any, size: int) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"missing or non-string id {value!r}")
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:
        decoded = base64.b64decode(value, validate=True)
    except binascii.Error:
        decoded = b""
    if len(decoded) != size:
        raise ValueError(
            f"id {value!r} is neither {2 * size} hex digits nor base64 of {size} bytes"
        )
    return decoded.hex()


def _parent(value: Any) -> str | None:
    if not value:
        return None
    parent = _id(value, 8)
    return None if parent == "0" * 16 else parent


def _kind(value: Any) -> str:
    if isinstance(value, int):
        return _KINDS.get(value, "UNSPECIFIED")
    name = str(value).upper().removeprefix("SPAN_KIND_")
    return _KINDS.get(int(name), "UNSPECIFIED") if name.isdigit() else name


def _status_is_error(code: Any) -> bool:
    if isinstance(code, int):
        return code == _STATUS_ERROR
    text = str(code).upper()
    return text == str(_STATUS_ERROR) or text.removeprefix("STATUS_CODE_") == "ERROR"


def _attributes(items: Any) -> dict[str, Any]:
    return {str(_get(item, "key")): _value(_get(item, "value") or {}) for item in items or []}


def _value(value: Any) -> Any:
    if not isinstance(value, dict) or not value:
        return None
    kind, inner = next(iter(value.items()))
    kind = kind.replace("_", "").lower()
    if kind == "stringvalue":
        return str(inner)
    if kind == "intvalue":
        return int(inner)
    if kind == "doublevalue":
        return float(inner)  # also "NaN" and "Infinity", as proto JSON spells them
    if kind == "boolvalue":
        return inner if isinstance(inner, bool) else str(inner).lower() == "true"
    if kind == "arrayvalue":
        return [_value(v) for v in _get(inner, "values", [])]
    if kind == "kvlistvalue":
        return _attributes(_get(inner, "values", []))
    return inner  # bytesValue: base64 text, kept as is
