"""The operation span: one CLIENT span per logical Stripe call.

:func:`start` opens the span and makes it current, together with an :class:`Operation`
record that the retry-loop hook fills in (attempts, final status and headers).
:func:`finish` closes it with what the call returned or raised. Both are called through
:func:`stripe_otel._guard.safe_call` by the patches and never see the caller's data
beyond the allowlisted fields named in :mod:`stripe_otel.semconv`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from stripe_otel import _links, _metrics, _phase_spans, _runtime, _transaction, semconv
from stripe_otel._headers import header
from stripe_otel._redact import error_type_name, safe_stacktrace, scrub, scrub_label, stripe_id
from stripe_otel._url import operation_name, url_template

# Our own per-call state lives in a plain ContextVar, not in the OpenTelemetry context:
# ddtrace's OTel bridge replaces the runtime context with one that keeps only the active
# span, and values stored beside it would vanish.
_current: ContextVar[Operation | None] = ContextVar("stripe_otel_operation", default=None)
#: The ContextVar itself, for hooks that must decide with no call that could raise.
current_var = _current


# A plain class rather than a dataclass: one is made per Stripe call, and a dataclass of
# this size costs milliseconds of start-up to generate.
class Operation:
    """What we learn about one Stripe call while it runs."""

    __slots__ = (
        "api_processing_ns",
        "attempts",
        "done",
        "http_client",
        "idempotency_key",
        "loop_end_perf",
        "network_ns",
        "pending_attempt",
        "perf0",
        "phases_available",
        "recording",
        "response_headers",
        "retries",
        "server",
        "span",
        "status_code",
        "template",
        "token",
        "var_token",
        "verb",
        "wall0",
    )

    def __init__(
        self, span: Span, recording: bool, verb: str, template: str, wall0: int, perf0: int
    ) -> None:
        self.span = span
        self.recording = recording
        self.verb = verb
        self.template = template
        self.wall0 = wall0
        self.perf0 = perf0
        self.server: tuple[str, int] | None = None
        self.token: object = None
        self.var_token: object = None
        self.attempts = 0
        #: Backoffs the SDK computed (one per retry), seen on any operation, sampled or not.
        self.retries = 0
        self.status_code: int | None = None
        self.response_headers: Mapping[str, Any] | None = None
        self.idempotency_key: str | None = None
        self.http_client: str | None = None
        self.pending_attempt: Any = None
        self.loop_end_perf: int | None = None
        self.network_ns = 0
        self.api_processing_ns = 0
        #: None until an attempt is timed; False once one could not be (untimeable transport).
        self.phases_available: bool | None = None
        #: Set as the call returns: an ended operation is never "current", even if restoring
        #: the caller's context failed, so one failure cannot silence every later call.
        self.done = False


def current() -> Operation | None:
    """The operation whose span is current in this context, if any."""
    op = _current.get()
    return op if op is not None and not op.done else None


@lru_cache(maxsize=64)
def _server(base: str) -> tuple[str | None, int | None]:
    parts = urlsplit(base)
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme else None)
    return parts.hostname, port


def _livemode(api_key: object) -> bool | None:
    # Only the prefix is looked at; the key itself is never kept.
    if isinstance(api_key, str):
        if api_key.startswith(("sk_live_", "rk_live_")):
            return True
        if api_key.startswith(("sk_test_", "rk_test_")):
            return False
    return None


def _option(options: Mapping[str, Any] | None, requestor: Any, name: str) -> Any:
    value = options.get(name) if options else None
    if value is None:
        value = getattr(requestor, name, None)
    return value


def start(
    requestor: Any,
    method: str,
    url: str,
    options: Mapping[str, Any] | None,
    base_address: str,
    streaming: bool,
) -> Operation | None:
    """Open the operation span and make it (and the record) current."""
    runtime = _runtime.current
    if runtime is None:
        return None
    verb = method.upper()
    template = url_template(url)
    perf0, wall0 = time.perf_counter_ns(), time.time_ns()
    span = runtime.tracer.start_span(f"{verb} {template}", kind=SpanKind.CLIENT, start_time=wall0)
    op = Operation(span, span.is_recording(), verb, template, wall0, perf0)
    if op.recording:
        base = requestor._options.base_addresses.get(base_address) or ""
        address, port = _server(base)
        if address is not None and port is not None:
            op.server = (address, port)
        attributes = {
            semconv.HTTP_REQUEST_METHOD: verb,
            semconv.URL_TEMPLATE: template,
            semconv.SERVER_ADDRESS: address,
            semconv.SERVER_PORT: port,
            semconv.STRIPE_API_MODE: "v2" if template.startswith("/v2/") else "v1",
            semconv.STRIPE_OPERATION: operation_name(verb, template),
            semconv.STRIPE_ACCOUNT: stripe_id(_option(options, requestor, "stripe_account")),
            semconv.STRIPE_LIVEMODE: _livemode(_option(options, requestor, "api_key")),
            semconv.STRIPE_STREAMING: True if streaming else None,
        }
        if runtime.datadog_names:
            attributes[semconv.DD_OPERATION_NAME] = semconv.DD_OPNAME_REQUEST
            attributes[semconv.DD_SPAN_TYPE] = semconv.DD_TYPE_HTTP
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
    ctx = trace.set_span_in_context(span)
    if runtime.settings.suppress_http_instrumentation:
        # One CLIENT span per call, and no traceparent sent to Stripe (as botocore does).
        ctx = context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, True, ctx)
    op.token = context.attach(ctx)
    op.var_token = _current.set(op)
    return op


def detach(op: Operation) -> None:
    """Restore the caller's context. Separate from :func:`finish` so that a failure in
    one cannot leave the other undone."""
    if op.var_token is not None:
        _current.reset(op.var_token)  # type: ignore[arg-type]
        op.var_token = None
    if op.token is not None:
        context.detach(op.token)  # type: ignore[arg-type]
        op.token = None


def finish(op: Operation, result: Any, exc: BaseException | None) -> None:
    """Record the outcome on the span (and in the metrics) and end it."""
    end_perf = time.perf_counter_ns()
    end_ns = op.wall0 + (end_perf - op.perf0)
    runtime = _runtime.current
    error = error_attributes(exc) if exc is not None else None
    status = _status(op, result, exc)
    if runtime is not None and runtime.instruments is not None:
        _metrics.record_operation(
            runtime.instruments,
            _metric_base(op, status),
            end_perf - op.perf0,
            max(op.retries, op.attempts - 1),
            error,
        )
    if not op.recording:
        op.span.end(end_time=end_ns)
        return
    attributes = _outcome(op, result, exc, status, error)
    if runtime is not None and runtime.settings.phases:
        attributes.update(_record_phases(op, runtime, status, end_perf, end_ns))
    # One set_attributes call: the SDK takes its lock and cleans values once per call.
    op.span.set_attributes({k: v for k, v in attributes.items() if v is not None})
    request_id = attributes[semconv.STRIPE_REQUEST_ID]
    if request_id is not None:
        _links.remember(request_id, op.span.get_span_context())  # for webhook links
    if exc is not None:
        record_exception(op.span, exc)
    op.span.end(end_time=end_ns)


def _status(op: Operation, result: Any, exc: BaseException | None) -> int | None:
    # The retry-loop hook saw the final response; without it (a client subclass that
    # overrides the loop), fall back to what the SDK attached to the result or error.
    status: Any = op.status_code
    if status is None:
        fallback = exc if exc is not None else getattr(result, "last_response", None)
        if fallback is None and exc is None and _is_raw_response(result):
            fallback = result  # StripeClient.raw_request returns the response itself
        status = getattr(fallback, "http_status", None) or getattr(fallback, "code", None)
    return status if isinstance(status, int) else None


def _is_raw_response(result: Any) -> bool:
    # By class, not by a `code` attribute: a StripeObject answers any attribute with a
    # field of the same name (a promotion code's `code`).
    from stripe._stripe_response import StripeResponseBase  # noqa: PLC0415 - stripe is loaded

    return isinstance(result, StripeResponseBase)


def _metric_base(op: Operation, status: int | None) -> dict[str, Any]:
    base: dict[str, Any] = {
        semconv.HTTP_REQUEST_METHOD: op.verb,
        semconv.URL_TEMPLATE: op.template,
    }
    if status is not None:
        base[semconv.HTTP_RESPONSE_STATUS_CODE] = status
    return base


def _outcome(
    op: Operation,
    result: Any,
    exc: BaseException | None,
    status: int | None,
    error: dict[str, Any] | None,
) -> dict[str, Any]:
    """The operation span's attributes about how the call ended (None: leave out)."""
    runtime = _runtime.current
    settings = runtime.settings if runtime is not None else None
    headers = op.response_headers
    if headers is None:
        fallback = exc if exc is not None else getattr(result, "last_response", None)
        headers = getattr(fallback, "headers", None)
    idempotency_key = op.idempotency_key or header(headers, "Idempotency-Key")
    attributes: dict[str, Any] = {
        semconv.HTTP_RESPONSE_STATUS_CODE: status,
        semconv.STRIPE_REQUEST_ID: stripe_id(header(headers, "Request-Id")),
        semconv.STRIPE_API_VERSION: scrub_label(header(headers, "Stripe-Version")),
        semconv.STRIPE_NUM_RETRIES: op.attempts - 1 if op.attempts else None,
        semconv.STRIPE_HTTP_CLIENT: op.http_client,
        semconv.STRIPE_IDEMPOTENT_REPLAYED: True
        if header(headers, "Idempotent-Replayed") == "true"
        else None,
    }
    # Uninstrumented mid-call (settings gone): record neither, an opt-out may have been set.
    if settings is not None and settings.record_idempotency_key:
        attributes[semconv.STRIPE_IDEMPOTENCY_KEY] = scrub(idempotency_key)
    if exc is None and settings is not None and settings.record_object_id:
        attributes[semconv.STRIPE_OBJECT_ID] = _object_id(result)
    if error is not None:
        attributes.update(error)
    return attributes


def _record_phases(
    op: Operation, runtime: _runtime.Runtime, status: int | None, end_perf: int, end_ns: int
) -> dict[str, Any]:
    """The sdk_decode span, phase metrics and transaction totals; returns the per-phase
    totals for the operation span."""
    if op.phases_available is not True or op.loop_end_perf is None:
        if op.phases_available is False:
            return {semconv.STRIPE_PHASE_AVAILABLE: False}
        return {}
    decode_ns = max(0, end_perf - op.loop_end_perf)
    _phase_spans.emit_decode(
        runtime.tracer,
        op.span,
        op.wall0 + (op.loop_end_perf - op.perf0),
        end_ns,
        datadog_for=op if runtime.datadog_names else None,
    )
    totals = {
        semconv.PHASE_NETWORK: op.network_ns,
        semconv.PHASE_API_PROCESSING: op.api_processing_ns,
        semconv.PHASE_SDK_DECODE: decode_ns,
    }
    app_ns = max(0, (end_perf - op.perf0) - sum(totals.values()))
    if runtime.instruments is not None:
        _metrics.record_phases(runtime.instruments, _metric_base(op, status), totals)
    _transaction.add_operation(op.network_ns, op.api_processing_ns, decode_ns)
    return {
        semconv.STRIPE_PHASE_NETWORK_MS: op.network_ns / 1e6,
        semconv.STRIPE_PHASE_API_PROCESSING_MS: op.api_processing_ns / 1e6,
        semconv.STRIPE_PHASE_SDK_DECODE_MS: decode_ns / 1e6,
        semconv.STRIPE_PHASE_APP_MS: app_ns / 1e6,
    }


def _object_id(result: Any) -> str | None:
    # StripeObject keeps its fields in `_data` (it is not a dict since stripe 15);
    # reading that dict avoids StripeObject.__getattr__'s exceptions for absent fields.
    data = getattr(result, "_data", None)
    if isinstance(data, dict) and data.get("object") not in ("list", "search_result"):
        return stripe_id(data.get("id"))
    return None


def error_attributes(exc: BaseException) -> dict[str, Any]:
    """Allowlisted facts about a failed call: the class and Stripe's error enums."""
    error = getattr(exc, "error", None)
    return {
        semconv.ERROR_TYPE: error_type_name(exc),
        semconv.STRIPE_ERROR_TYPE: scrub_label(getattr(error, "type", None)),
        semconv.STRIPE_ERROR_CODE: scrub_label(
            getattr(error, "code", None) or getattr(exc, "code", None)
        ),
        semconv.STRIPE_ERROR_DECLINE_CODE: scrub_label(getattr(error, "decline_code", None)),
        semconv.STRIPE_ERROR_PARAM: scrub_label(getattr(error, "param", None)),
    }


def safe_summary(exc: BaseException) -> str:
    """A description of *exc* built only from allowlisted fields.

    Stripe's own messages can quote what was sent ("Invalid email address: ..."), so the
    exception's message is never used.
    """
    attributes = error_attributes(exc)
    details = [
        f"{key.rsplit('.', 1)[-1]}={value}"
        for key, value in attributes.items()
        if value is not None and key != semconv.ERROR_TYPE
    ]
    status = getattr(exc, "http_status", None)
    if isinstance(status, int):
        details.insert(0, f"http_status={status}")
    name = error_type_name(exc)
    return name + (f" ({', '.join(details)})" if details else "")


def record_exception(span: Span, exc: BaseException) -> None:
    """Mark *span* failed and add an ``exception`` event with no message text from *exc*."""
    summary = safe_summary(exc)
    span.set_status(Status(StatusCode.ERROR, summary))
    span.add_event(
        semconv.EVENT_EXCEPTION,
        {
            semconv.EXCEPTION_TYPE: error_type_name(exc),
            semconv.EXCEPTION_MESSAGE: summary,
            semconv.EXCEPTION_STACKTRACE: safe_stacktrace(exc),
            semconv.EXCEPTION_ESCAPED: True,
        },
    )
