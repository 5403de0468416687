"""Webhook spans: one ``stripe.webhook`` span per event the app verifies and decodes, with
``stripe.webhook.verify`` and ``stripe.webhook.decode`` children, linked to the API call
that caused the event.

The entry points (construct_event, parse_event_notification...) open the webhook span;
the signature check (``WebhookSignature.verify_header``) makes the verify child; what
follows the check, up to the entry point's return, is the decode child (timestamped like
``sdk_decode``). Nothing of the payload, the signature header's value or the secret is
recorded: only the event's ids, type, version, timestamps and the request that caused it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from stripe_otel import _links, _metadata_link, _runtime, semconv
from stripe_otel._operation import record_exception
from stripe_otel._redact import error_type_name, scrub, stripe_id

_current: ContextVar[Webhook | None] = ContextVar("stripe_otel_webhook", default=None)
LINK_IN_PROCESS = "in_process"
LINK_METADATA = "metadata"


class Webhook:
    """One webhook being handled: its span, clock anchor and what verify found."""

    __slots__ = (
        "perf0",
        "recording",
        "signature_t",
        "signature_valid",
        "span",
        "thin",
        "tokens",
        "verify_end_perf",
        "wall0",
    )

    def __init__(
        self,
        span: Span,
        recording: bool,
        thin: bool,
        wall0: int,
        perf0: int,
        signature_t: int | None,
    ) -> None:
        self.span = span
        self.recording = recording
        self.thin = thin
        self.wall0 = wall0
        self.perf0 = perf0
        self.signature_t = signature_t
        self.verify_end_perf: int | None = None
        self.signature_valid: bool | None = None
        self.tokens: list[Any] = []


def current() -> Webhook | None:
    return _current.get()


def _signature_timestamp(header: object) -> int | None:
    # `t=1700000000,v1=...`: only the timestamp is read; the signature never leaves here.
    if isinstance(header, str):
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            if key == "t" and value.isdigit():
                return int(value)
    return None


def start(signature_header: object, thin: bool) -> Webhook | None:
    runtime = _runtime.current
    if runtime is None:
        return None
    perf0, wall0 = time.perf_counter_ns(), time.time_ns()
    span = runtime.tracer.start_span(semconv.SPAN_WEBHOOK, kind=SpanKind.CONSUMER, start_time=wall0)
    hook = Webhook(
        span, span.is_recording(), thin, wall0, perf0, _signature_timestamp(signature_header)
    )
    hook.tokens = [context.attach(trace.set_span_in_context(span)), _current.set(hook)]
    return hook


def detach(hook: Webhook) -> None:
    tokens, hook.tokens = hook.tokens, []
    if len(tokens) == 2:
        _current.reset(tokens[1])
        context.detach(tokens[0])


def _wall(hook: Webhook | None, perf: int) -> int | None:
    # On the webhook's own clock anchor, so verify and decode meet exactly.
    return None if hook is None else hook.wall0 + (perf - hook.perf0)


def verify_start() -> tuple[Span, int] | None:
    runtime = _runtime.current
    if runtime is None:
        return None
    perf = time.perf_counter_ns()
    start = _wall(_current.get(), perf)
    return runtime.tracer.start_span(semconv.SPAN_WEBHOOK_VERIFY, start_time=start), perf


def verify_end(started: tuple[Span, int], exc: BaseException | None) -> None:
    span, _ = started
    valid = exc is None
    hook = _current.get()
    end_perf = time.perf_counter_ns()
    if hook is not None:
        hook.verify_end_perf = end_perf
        hook.signature_valid = valid
    if span.is_recording():
        if exc is not None:
            # Which check failed is in the exception's class; its message may quote input.
            span.set_attribute(semconv.ERROR_TYPE, error_type_name(exc))
            span.set_status(Status(StatusCode.ERROR, error_type_name(exc)))
        span.set_attribute(semconv.STRIPE_WEBHOOK_SIGNATURE_VALID, valid)
    span.end(end_time=_wall(hook, end_perf))


def _field(obj: Any, name: str) -> Any:
    data = getattr(obj, "_data", None)  # StripeObject keeps its fields here
    if isinstance(data, dict):
        return data.get(name)
    return getattr(obj, name, None)


def _created_s(created: object) -> float | None:
    if isinstance(created, int | float):
        return float(created)
    if isinstance(created, str):  # v2: ISO 8601
        try:
            return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _event_attributes(hook: Webhook, event: Any, now_s: float) -> tuple[dict[str, Any], str | None]:
    created = _created_s(_field(event, "created"))
    request = _field(event, "request")
    if hook.thin:
        reason = _field(event, "reason")
        request = getattr(reason, "request", None)
    request_id = request if isinstance(request, str) else _field(request, "id")
    data = _field(event, "data")
    obj = _field(data, "object") if data is not None else None
    related = _field(event, "related_object")
    attributes = {
        semconv.STRIPE_EVENT_ID: stripe_id(_field(event, "id")),
        semconv.STRIPE_EVENT_TYPE: scrub(_field(event, "type")),
        semconv.STRIPE_EVENT_KIND: "thin" if hook.thin else "snapshot",
        semconv.STRIPE_EVENT_API_VERSION: scrub(_field(event, "api_version")),
        semconv.STRIPE_LIVEMODE: _field(event, "livemode"),
        semconv.STRIPE_ACCOUNT: stripe_id(_field(event, "account")),
        semconv.STRIPE_OBJECT_ID: stripe_id(
            _field(obj, "id") if obj is not None else _field(related, "id")
        ),
        semconv.STRIPE_REQUEST_ID: stripe_id(request_id),
        semconv.STRIPE_IDEMPOTENCY_KEY: scrub(_field(request, "idempotency_key")),
        semconv.STRIPE_EVENT_AGE_MS: (now_s - created) * 1000 if created is not None else None,
        semconv.STRIPE_WEBHOOK_DELIVERY_LAG_MS: (now_s - hook.signature_t) * 1000
        if hook.signature_t is not None
        else None,
    }
    if not isinstance(attributes[semconv.STRIPE_LIVEMODE], bool):
        attributes[semconv.STRIPE_LIVEMODE] = None
    return attributes, attributes[semconv.STRIPE_REQUEST_ID]


def _stored_traceparent(event: Any) -> object:
    data = _field(event, "data")
    obj = _field(data, "object") if data is not None else None
    metadata = _field(obj, "metadata") if obj is not None else None
    return _field(metadata, semconv.METADATA_TRACEPARENT_KEY) if metadata is not None else None


def finish(hook: Webhook, event: Any, exc: BaseException | None) -> None:
    end_perf = time.perf_counter_ns()
    end_ns = hook.wall0 + (end_perf - hook.perf0)
    span = hook.span
    if not hook.recording:
        span.end(end_time=end_ns)
        return
    runtime = _runtime.current
    decoded_from = hook.verify_end_perf if hook.verify_end_perf is not None else hook.perf0
    if runtime is not None and hook.signature_valid is not False:
        decode = runtime.tracer.start_span(
            semconv.SPAN_WEBHOOK_DECODE,
            context=trace.set_span_in_context(span),
            start_time=hook.wall0 + (decoded_from - hook.perf0),
        )
        if exc is not None:
            decode.set_status(Status(StatusCode.ERROR, error_type_name(exc)))
        decode.end(end_time=end_ns)
    if hook.signature_valid is not None:
        span.set_attribute(semconv.STRIPE_WEBHOOK_SIGNATURE_VALID, hook.signature_valid)
    if exc is None:
        attributes, request_id = _event_attributes(hook, event, time.time())
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        origin = _links.lookup(request_id) if request_id else None
        if origin is not None:
            span.add_link(origin, {semconv.STRIPE_LINK_SOURCE: LINK_IN_PROCESS})
        stored = _metadata_link.parse(_stored_traceparent(event))
        if stored is not None and (origin is None or stored.span_id != origin.span_id):
            span.add_link(stored, {semconv.STRIPE_LINK_SOURCE: LINK_METADATA})
    else:
        span.set_attribute(semconv.ERROR_TYPE, error_type_name(exc))
        record_exception(span, exc)
    span.end(end_time=end_ns)
