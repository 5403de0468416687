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

# --- Phases: where the time of a call went -------------------------------------
#: Phase spans tile each attempt (network, api_processing, network) and the operation
#: after its last attempt (sdk_decode); db_write spans belong to a transaction.
SPAN_NETWORK: Final = "stripe.network"
SPAN_API_PROCESSING: Final = "stripe.api_processing"
SPAN_SDK_DECODE: Final = "stripe.sdk_decode"
SPAN_DB_WRITE: Final = "stripe.db_write"
STRIPE_PHASE: Final = "stripe.phase"
#: Values of STRIPE_PHASE.
PHASE_NETWORK: Final = "network"
PHASE_API_PROCESSING: Final = "api_processing"
PHASE_SDK_DECODE: Final = "sdk_decode"
PHASE_DB_WRITE: Final = "db_write"
STRIPE_PHASE_ESTIMATED: Final = "stripe.phase.estimated"
STRIPE_PHASE_METHOD: Final = "stripe.phase.method"
STRIPE_PHASE_AVAILABLE: Final = "stripe.phase.available"
#: Which leg a network span covers: "request" (connect + send + transit out) or
#: "response" (transit back + receiving the body).
STRIPE_NETWORK_LEG: Final = "stripe.network.leg"
STRIPE_CONNECTION_REUSED: Final = "stripe.connection.reused"
STRIPE_NETWORK_DNS_MS: Final = "stripe.network.dns_ms"
STRIPE_NETWORK_CONNECT_MS: Final = "stripe.network.connect_ms"
STRIPE_NETWORK_TLS_MS: Final = "stripe.network.tls_ms"
STRIPE_NETWORK_SEND_MS: Final = "stripe.network.send_ms"
STRIPE_NETWORK_RECEIVE_MS: Final = "stripe.network.receive_ms"
STRIPE_NETWORK_RTT_MS: Final = "stripe.network.rtt_ms"
STRIPE_NETWORK_RTT_SOURCE: Final = "stripe.network.rtt_source"
#: Totals on operation and transaction spans, in milliseconds.
STRIPE_PHASE_NETWORK_MS: Final = "stripe.phase.network_ms"
STRIPE_PHASE_API_PROCESSING_MS: Final = "stripe.phase.api_processing_ms"
STRIPE_PHASE_SDK_DECODE_MS: Final = "stripe.phase.sdk_decode_ms"
STRIPE_PHASE_DB_WRITE_MS: Final = "stripe.phase.db_write_ms"
STRIPE_PHASE_APP_MS: Final = "stripe.phase.app_ms"
#: On a business-transaction span (`stripe_otel.transaction("checkout")`): its name.
STRIPE_TRANSACTION: Final = "stripe.transaction"
#: How many Stripe operations a transaction made.
STRIPE_TRANSACTION_OPERATIONS: Final = "stripe.transaction.operations"

# --- Webhooks ---------------------------------------------------------------------------
#: One span per webhook the app verifies and decodes, with verify and decode children.
SPAN_WEBHOOK: Final = "stripe.webhook"
SPAN_WEBHOOK_VERIFY: Final = "stripe.webhook.verify"
SPAN_WEBHOOK_DECODE: Final = "stripe.webhook.decode"
STRIPE_EVENT_ID: Final = "stripe.event.id"
STRIPE_EVENT_TYPE: Final = "stripe.event.type"
STRIPE_EVENT_API_VERSION: Final = "stripe.event.api_version"
#: "snapshot" (v1 events carrying the object) or "thin" (v2 event notifications).
STRIPE_EVENT_KIND: Final = "stripe.event.kind"
#: Now minus the event's `created`: how old the event is when the app handles it.
STRIPE_EVENT_AGE_MS: Final = "stripe.event.age_ms"
#: Now minus the signature's `t=`: how long this delivery took to be handled.
STRIPE_WEBHOOK_DELIVERY_LAG_MS: Final = "stripe.webhook.delivery_lag_ms"
STRIPE_WEBHOOK_SIGNATURE_VALID: Final = "stripe.webhook.signature_valid"
#: On the link from a webhook span to the API call that caused the event: how it was found.
STRIPE_LINK_SOURCE: Final = "stripe.link.source"
#: The metadata key under which (opt-in) the creating call's W3C traceparent is stored on
#: Stripe objects, so a webhook handled in another process can link back to it.
METADATA_TRACEPARENT_KEY: Final = "otel_traceparent"

# --- Datadog mapping (set for Datadog's OTLP intake and ddtrace's OTel bridge) ------
DD_OPERATION_NAME: Final = "operation.name"
DD_RESOURCE_NAME: Final = "resource.name"
DD_SPAN_TYPE: Final = "span.type"
#: 1 makes Datadog compute trace metrics (hits, errors, latency) for a non-top-level span.
DD_MEASURED: Final = "_dd.measured"
#: Datadog operation name of operation spans; the others use their span names.
DD_OPNAME_REQUEST: Final = SPAN_OPERATION_FALLBACK
DD_OPNAME_TRANSACTION: Final = "stripe.transaction"
#: Values of DD_SPAN_TYPE.
DD_TYPE_HTTP: Final = "http"
DD_TYPE_CUSTOM: Final = "custom"

# --- Span events (the exception event follows the OTel exception convention) -----
EVENT_EXCEPTION: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
EXCEPTION_ESCAPED: Final = "exception.escaped"

# --- Metrics ------------------------------------------------------------------------
#: Histogram, seconds: duration of each Stripe operation (retries and decode included).
METRIC_OPERATION_DURATION: Final = "stripe.client.operation.duration"
#: Histogram, seconds: duration of each phase, by STRIPE_PHASE.
METRIC_PHASE_DURATION: Final = "stripe.client.phase.duration"
#: Counter: retries (attempts after the first).
METRIC_RETRIES: Final = "stripe.client.retries"
#: Counter: failed operations, by error.type and stripe.error.code.
METRIC_ERRORS: Final = "stripe.client.errors"
#: Counter of exceptions raised inside stripe-otel's own hooks (and swallowed).
METRIC_INTERNAL_ERRORS: Final = "stripe_otel.internal.errors"
#: Attribute on METRIC_INTERNAL_ERRORS naming the hook that failed.
STRIPE_OTEL_HOOK: Final = "stripe_otel.hook"
#: Counter of spans an exporter gave up on (backend down too long, rejected, too large).
METRIC_EXPORTER_DROPPED: Final = "stripe_otel.exporter.dropped_spans"
#: Attributes on METRIC_EXPORTER_DROPPED.
STRIPE_OTEL_EXPORTER: Final = "stripe_otel.exporter"
STRIPE_OTEL_DROP_REASON: Final = "stripe_otel.drop_reason"

#: The allowlist: every attribute key this package may set on a span, event or metric.
ALL_ATTRIBUTES: Final[frozenset[str]] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper()
    and isinstance(value, str)
    and not name.startswith(
        (
            "SPAN_",
            "EVENT_",
            "METRIC_",
            "INSTRUMENTATION_",
            "PHASE_",
            "DD_OPNAME_",
            "DD_TYPE_",
            "METADATA_",
        )
    )
)

#: Every span name that is not of the ``"{METHOD} {url.template}"`` form.
ALL_SPAN_NAMES: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if name.startswith("SPAN_")
)

#: Every value of STRIPE_PHASE.
ALL_PHASES: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if name.startswith("PHASE_")
)

#: Every metric name.
ALL_METRICS: Final[frozenset[str]] = frozenset(
    value for name, value in dict(globals()).items() if name.startswith("METRIC_")
)
