"""Turn a :class:`~stripe_otel._phases.Breakdown` into phase spans under an attempt.

Phase spans get explicit start and end times from the timeline, so they tile the attempt
exactly. Sub-steps (dns, connect, tls, send, receive) are attributes in milliseconds on
the network spans, not spans of their own: a swarm of tiny spans costs more than it tells.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer

from stripe_otel import semconv
from stripe_otel._phases import Breakdown

_NAMES = {
    semconv.PHASE_NETWORK: semconv.SPAN_NETWORK,
    semconv.PHASE_API_PROCESSING: semconv.SPAN_API_PROCESSING,
}


def datadog_names(span_name: str, op: Any) -> dict[str, Any]:
    """Datadog's names for a child of operation *op*: its own operation name, the
    operation's resource (so trace metrics split by endpoint), and measured."""
    return {
        semconv.DD_OPERATION_NAME: span_name,
        semconv.DD_RESOURCE_NAME: f"{op.verb} {op.template}",
        semconv.DD_SPAN_TYPE: semconv.DD_TYPE_CUSTOM,
        semconv.DD_MEASURED: 1,
    }


def _ms(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e6


def emit(
    tracer: Tracer,
    attempt: Span,
    result: Breakdown,
    reused: bool,
    rtt_source: str | None,
    datadog_for: Any = None,
) -> None:
    """Start and end the three phase spans of one attempt."""
    parent = trace.set_span_in_context(attempt)
    request_leg, _processing, response_leg = result.intervals
    per_interval: list[dict[str, Any]] = [
        {
            semconv.STRIPE_NETWORK_LEG: request_leg.leg,
            semconv.STRIPE_CONNECTION_REUSED: reused,
            semconv.STRIPE_NETWORK_DNS_MS: _ms(result.dns_ns),
            semconv.STRIPE_NETWORK_CONNECT_MS: _ms(result.connect_ns),
            semconv.STRIPE_NETWORK_TLS_MS: _ms(result.tls_ns),
            semconv.STRIPE_NETWORK_SEND_MS: _ms(result.send_ns),
        },
        {
            semconv.STRIPE_PHASE_ESTIMATED: True,
            semconv.STRIPE_PHASE_METHOD: result.method,
            semconv.STRIPE_NETWORK_RTT_MS: _ms(result.rtt_ns),
            semconv.STRIPE_NETWORK_RTT_SOURCE: rtt_source,
        },
        {
            semconv.STRIPE_NETWORK_LEG: response_leg.leg,
            semconv.STRIPE_NETWORK_RECEIVE_MS: _ms(result.receive_ns),
        },
    ]
    for interval, extra in zip(result.intervals, per_interval, strict=True):
        attributes: dict[str, Any] = {semconv.STRIPE_PHASE: interval.phase}
        attributes.update({k: v for k, v in extra.items() if v is not None})
        if datadog_for is not None:
            attributes.update(datadog_names(_NAMES[interval.phase], datadog_for))
        span = tracer.start_span(
            _NAMES[interval.phase],
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=interval.start_ns,
        )
        span.end(end_time=interval.end_ns)


def emit_decode(
    tracer: Tracer, operation: Span, start_ns: int, end_ns: int, datadog_for: Any = None
) -> None:
    """The sdk_decode span: from the end of the retry loop to the end of the call."""
    attributes: dict[str, Any] = {semconv.STRIPE_PHASE: semconv.PHASE_SDK_DECODE}
    if datadog_for is not None:
        attributes.update(datadog_names(semconv.SPAN_SDK_DECODE, datadog_for))
    span = tracer.start_span(
        semconv.SPAN_SDK_DECODE,
        context=trace.set_span_in_context(operation),
        kind=SpanKind.INTERNAL,
        attributes=attributes,
        start_time=start_ns,
    )
    span.end(end_time=end_ns)
