"""Every span name, attribute key and metric name stripe-otel emits.

This is the only module that spells them; ``docs/semantic-conventions.md`` documents
them and a test keeps the two in step. Where an OpenTelemetry semantic convention
exists (HTTP client, ``error.type``, ``server.*``), we use it; Stripe-specific facts
live under the ``stripe.`` namespace.

Every key here is part of the attribute *allowlist*: nothing outside
:data:`ALL_ATTRIBUTES` is ever set on a span by this package.
"""

from __future__ import annotations

from typing import Final

#: Instrumentation scope name given to the tracer and meter.
INSTRUMENTATION_NAME: Final = "stripe_otel"

# --- Span names -------------------------------------------------------------------
#: The operation span is named ``"{METHOD} {url.template}"`` (HTTP client convention);
#: this is its fallback when no template can be derived.
SPAN_OPERATION_FALLBACK: Final = "stripe.request"
#: One child span per HTTP attempt made by the SDK's retry loop.
SPAN_ATTEMPT: Final = "stripe.attempt"

# --- OpenTelemetry semantic conventions (HTTP client, server, error) -------------
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
HTTP_REQUEST_RESEND_COUNT: Final = "http.request.resend_count"
URL_TEMPLATE: Final = "url.template"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"

# --- Stripe: operation ----------------------------------------------------------
STRIPE_OPERATION: Final = "stripe.operation"
STRIPE_API_MODE: Final = "stripe.api_mode"
STRIPE_API_VERSION: Final = "stripe.api_version"
STRIPE_REQUEST_ID: Final = "stripe.request_id"
STRIPE_IDEMPOTENCY_KEY: Final = "stripe.idempotency_key"
STRIPE_IDEMPOTENT_REPLAYED: Final = "stripe.idempotent_replayed"
STRIPE_NUM_RETRIES: Final = "stripe.num_retries"
STRIPE_OBJECT_ID: Final = "stripe.object.id"
STRIPE_ACCOUNT: Final = "stripe.account"
STRIPE_LIVEMODE: Final = "stripe.livemode"
STRIPE_HTTP_CLIENT: Final = "stripe.http_client"
STRIPE_STREAMING: Final = "stripe.streaming"

# --- Stripe: errors ---------------------------------------------------------------
STRIPE_ERROR_TYPE: Final = "stripe.error.type"
STRIPE_ERROR_CODE: Final = "stripe.error.code"
STRIPE_ERROR_DECLINE_CODE: Final = "stripe.error.decline_code"
STRIPE_ERROR_PARAM: Final = "stripe.error.param"
STRIPE_RATE_LIMITED_REASON: Final = "stripe.rate_limited_reason"

# --- Stripe: attempts and retries -----------------------------------------------
STRIPE_ATTEMPT: Final = "stripe.attempt"
#: The ``Stripe-Should-Retry`` response header, when Stripe sent one.
STRIPE_SHOULD_RETRY: Final = "stripe.should_retry"
#: The SDK's decision after this attempt: will it try again?
STRIPE_RETRY_WILL_RETRY: Final = "stripe.retry.will_retry"
#: Backoff the SDK sleeps after this attempt before the next one, in milliseconds.
STRIPE_RETRY_BACKOFF_MS: Final = "stripe.retry.backoff_ms"

# --- Span events (the exception event follows the OTel exception convention) -----
EVENT_EXCEPTION: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
EXCEPTION_ESCAPED: Final = "exception.escaped"

# --- Metrics ------------------------------------------------------------------------
#: Counter of exceptions raised inside stripe-otel's own hooks (and swallowed).
METRIC_INTERNAL_ERRORS: Final = "stripe_otel.internal.errors"
#: Attribute on METRIC_INTERNAL_ERRORS naming the hook that failed.
STRIPE_OTEL_HOOK: Final = "stripe_otel.hook"

#: The allowlist: every attribute key this package may set on a span, event or metric.
ALL_ATTRIBUTES: Final[frozenset[str]] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper()
    and isinstance(value, str)
    and not name.startswith(("SPAN_", "EVENT_", "METRIC_", "INSTRUMENTATION_"))
)

#: Every span name that is not of the ``"{METHOD} {url.template}"`` form.
ALL_SPAN_NAMES: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if name.startswith("SPAN_")
)

#: Every metric name.
ALL_METRICS: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if name.startswith("METRIC_")
)
