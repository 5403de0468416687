"""Opt-in cross-process links: the creating call's traceparent in the object's metadata.

Webhooks are usually handled by another process (or machine) than the one that made the
API call, where the in-process link map cannot help. With
``STRIPE_OTEL_WEBHOOK_METADATA_LINK=true``, v1 creates of objects that take metadata (and
that the app gave no idempotency key) get ``metadata[otel_traceparent]`` = the W3C
traceparent of the call's span, and a webhook whose object carries it links back. It never
overwrites a key the app set, and it stays within Stripe's limits (50 keys; 40-character
keys; 500-character values). This *writes to the app's Stripe data*: off by default,
documented in the README.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanContext, TraceFlags

from stripe_otel import semconv

# Collections whose create and update take `metadata` and whose objects appear in events.
_COLLECTIONS = frozenset({
    "payment_intents", "setup_intents", "customers", "charges", "refunds", "subscriptions",
    "invoices", "payouts", "transfers", "payment_links", "products", "prices",
})  # fmt: skip
_CHECKOUT_SESSIONS = ("checkout", "sessions")
_MAX_KEYS = 50
_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def _takes_metadata(template: str) -> bool:
    parts = [p for p in template.split("/") if p]
    # Creates only (/v1/{collection}): an update could push an object that already has 50
    # metadata keys past Stripe's limit, which the request alone cannot tell.
    if parts[:1] != ["v1"]:
        return False
    body = parts[1:]
    if body[:2] == list(_CHECKOUT_SESSIONS):
        body = ["checkout_sessions", *body[2:]]
    return len(body) == 1 and (body[0] in _COLLECTIONS or body[0] == "checkout_sessions")


def traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def with_traceparent(
    verb: str,
    template: str,
    params: Mapping[str, Any] | None,
    context: SpanContext,
    idempotency_key: object = None,
) -> dict[str, Any] | None:
    """A copy of *params* with the traceparent added to its metadata, or None to leave
    the request as it is. The app's own dict is never modified.

    Never when the app gave an idempotency key: a retry of the same call would carry a
    different traceparent, and Stripe refuses a reused key with different parameters.
    """
    if idempotency_key or verb != "POST" or not _takes_metadata(template):
        return None
    if not context.is_valid:
        return None
    params = dict(params or {})
    metadata = params.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping) or semconv.METADATA_TRACEPARENT_KEY in metadata:
        return None  # "" clears metadata; an app-set key is the app's
    if len(metadata) >= _MAX_KEYS:
        return None
    params["metadata"] = {**metadata, semconv.METADATA_TRACEPARENT_KEY: traceparent(context)}
    return params


def parse(value: object) -> SpanContext | None:
    """The remote span context in a stored traceparent, if it is well-formed."""
    match = _TRACEPARENT_RE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    trace_id, span_id = int(match.group(1), 16), int(match.group(2), 16)
    if not trace_id or not span_id:
        return None
    return SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(match.group(3), 16))
    )
