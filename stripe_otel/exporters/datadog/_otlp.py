"""Datadog's names on our spans, for OTLP to the Datadog Agent's OTLP receiver.

The Agent maps ``operation.name``, ``resource.name``, ``span.type`` and ``_dd.measured``
attributes of OTLP spans to its own fields. :class:`DatadogMappingSpanProcessor` sets them
at span start, with the same rules as the native exporter (:mod:`._mapping`), so a
dashboard built on one path works on the other. The exporters for that path are in
:mod:`stripe_otel.exporters.datadog_otlp`.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from stripe_otel import semconv
from stripe_otel._guard import report
from stripe_otel.exporters.datadog._mapping import (
    fallback_name,
    is_child_of_operation,
    operation_name,
    span_type,
)

__all__ = ["DatadogMappingSpanProcessor"]

# Live operation and attempt spans remembered between start and end; a span that is never
# ended must not grow memory forever.
_MAX_LIVE: Final = 10_000


class DatadogMappingSpanProcessor(SpanProcessor):
    """Sets Datadog's naming attributes on our spans as they start; never overwrites one.

    Runs on the app's thread (span start): a few dict operations, and fail-open.
    Only spans of the ``stripe_otel`` scope, and phase spans, are touched. DB write spans
    of other instrumentations get ``stripe.phase`` from a processor that may run after
    this one, so they are left to the Agent's own mapping.
    """

    def __init__(self, max_live: int = _MAX_LIVE) -> None:
        self._max_live = max_live
        self._lock = threading.Lock()
        # span id -> resource, for live operation and attempt spans: the resource their
        # attempt and phase children report under.
        self._live: collections.OrderedDict[int, str] = collections.OrderedDict()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._on_start(span)
        except Exception as exc:  # noqa: BLE001 - must not fail the app's span
            report("datadog.mapping.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if span.context is not None and self._live:
                with self._lock:
                    self._live.pop(span.context.span_id, None)
        except Exception as exc:  # noqa: BLE001
            report("datadog.mapping.on_end", exc)

    @property
    def live_spans(self) -> int:
        return len(self._live)

    def _on_start(self, span: Span) -> None:
        scope = span.instrumentation_scope
        attributes = span.attributes or {}
        ours = scope is not None and scope.name == semconv.INSTRUMENTATION_NAME
        if not ours and semconv.STRIPE_PHASE not in attributes:
            return
        name = span.name
        operation = ours and span.kind is SpanKind.CLIENT
        child = not operation and is_child_of_operation(name, attributes)
        resource = attributes.get(semconv.DD_RESOURCE_NAME)
        if not isinstance(resource, str) or not resource:
            resource = None
            if child and span.parent is not None:
                with self._lock:
                    resource = self._live.get(span.parent.span_id)
            resource = resource or name
        wanted: dict[str, Any] = {
            semconv.DD_OPERATION_NAME: operation_name(
                name, attributes, operation, fallback_name(scope.name if scope else "", span.kind)
            ),
            semconv.DD_RESOURCE_NAME: resource,
            semconv.DD_SPAN_TYPE: span_type(attributes, operation),
        }
        if child:
            wanted[semconv.DD_MEASURED] = 1
        missing = {key: value for key, value in wanted.items() if key not in attributes}
        if missing:
            span.set_attributes(missing)
        if (operation or name == semconv.SPAN_ATTEMPT) and span.context is not None:
            with self._lock:
                self._live[span.context.span_id] = resource
                if len(self._live) > self._max_live:
                    self._live.popitem(last=False)

    def shutdown(self) -> None:
        with self._lock:
            self._live.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
