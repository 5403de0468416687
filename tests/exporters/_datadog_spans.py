"""Hand-built ReadableSpans for the Datadog exporter's unit tests: exact ids and shapes."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from stripe_otel import semconv as sc

TRACE_ID = 0x0123456789ABCDEF_FEDCBA9876543210
HIGH_HEX = "0123456789abcdef"
LOW = 0xFEDCBA9876543210
OURS = InstrumentationScope(sc.INSTRUMENTATION_NAME, "0.1.0")
RESOURCE = Resource({"service.name": "shop", "deployment.environment.name": "staging"})
_ids = itertools.count(0x1000)


def ctx(span_id: int, trace_id: int = TRACE_ID, remote: bool = False) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=remote, trace_flags=TraceFlags(1))


def make_span(
    name: str,
    *,
    span_id: int | None = None,
    parent: SpanContext | ReadableSpan | None = None,
    trace_id: int = TRACE_ID,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    scope: InstrumentationScope | None = OURS,
    resource: Resource = RESOURCE,
    status: Status | None = None,
    events: tuple[Event, ...] = (),
    start: int = 1_000,
    end: int = 3_500,
) -> ReadableSpan:
    if isinstance(parent, ReadableSpan):
        parent = parent.context
    return ReadableSpan(
        name=name,
        context=ctx(span_id or next(_ids), trace_id),
        parent=parent,
        resource=resource,
        # As the SDK leaves it on an ended span: immutable BoundedAttributes.
        attributes=BoundedAttributes(attributes=dict(attributes or {}), immutable=True),
        events=events,
        kind=kind,
        status=status or Status(StatusCode.UNSET),
        start_time=start,
        end_time=end,
        instrumentation_scope=scope,
    )


def stripe_trace(trace_id: int = TRACE_ID) -> list[ReadableSpan]:
    """A transaction with one operation, one attempt and its phases, in end order."""
    root = make_span("checkout", trace_id=trace_id, attributes={sc.STRIPE_TRANSACTION: "checkout"})
    op = make_span(
        "POST /v1/payment_intents/{intent}/confirm",
        trace_id=trace_id,
        parent=root,
        kind=SpanKind.CLIENT,
        attributes={
            sc.HTTP_REQUEST_METHOD: "POST",
            sc.URL_TEMPLATE: "/v1/payment_intents/{intent}/confirm",
            sc.SERVER_PORT: 443,
            sc.STRIPE_LIVEMODE: False,
        },
    )
    attempt = make_span(
        sc.SPAN_ATTEMPT, trace_id=trace_id, parent=op, attributes={sc.STRIPE_ATTEMPT: 1}
    )
    network = make_span(
        sc.SPAN_NETWORK,
        trace_id=trace_id,
        parent=attempt,
        attributes={sc.STRIPE_PHASE: sc.PHASE_NETWORK, sc.STRIPE_NETWORK_SEND_MS: 0.25},
    )
    decode = make_span(
        sc.SPAN_SDK_DECODE,
        trace_id=trace_id,
        parent=op,
        attributes={sc.STRIPE_PHASE: sc.PHASE_SDK_DECODE},
    )
    return [network, attempt, decode, op, root]
