"""OpenTelemetry spans to Datadog spans: the maps the Agent's trace API takes.

Pure and cheap: it runs on the span processor's worker for every span, and it is what a
Datadog user pays instead of OTLP encoding. The rules (``docs/semantic-conventions.md``,
"Datadog naming"):

* **name** (Datadog's *operation*): the ``operation.name`` attribute; else
  ``stripe.request`` for our operation spans, the span name for our other spans,
  ``stripe.transaction`` for transactions, and ``{scope}.{kind}`` for anyone else's
  (as ddtrace names OTel spans without ``operation.name``).
* **resource**: ``resource.name``; else the operation's ``{METHOD} {url.template}`` on
  the operation *and* its attempt and phase spans, so trace metrics split by endpoint;
  else the span name.
* **type**: ``span.type``; else ``http`` for operation spans, ``sql`` for DB spans,
  ``custom`` otherwise.

A *chunk* is a list of spans of one trace, mapped together so that children can find
their operation's resource.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from stripe_otel import semconv

DDSpan = dict[str, Any]

DEFAULT_SERVICE: Final = "stripe-otel-app"
TYPE_HTTP: Final = "http"
TYPE_SQL: Final = "sql"
TYPE_CUSTOM: Final = "custom"
# Datadog's own tag and metric keys (not attributes we set, so not in semconv).
META_SPAN_KIND: Final = "span.kind"
META_ENV: Final = "env"
META_VERSION: Final = "version"
META_TRACE_ID_HIGH: Final = "_dd.p.tid"
META_ERROR_MESSAGE: Final = "error.message"
META_ERROR_STACK: Final = "error.stack"
META_EVENTS: Final = "events"
#: Datadog tags trace metrics with this meta key, not the OTel attribute's name.
META_HTTP_STATUS_CODE: Final = "http.status_code"
METRIC_TOP_LEVEL: Final = "_dd.top_level"
METRIC_SAMPLING_PRIORITY: Final = "_sampling_priority_v1"
# OpenTelemetry resource and DB conventions we read (never emit).
_RES_SERVICE: Final = "service.name"
_RES_VERSION: Final = "service.version"
_RES_ENV: Final = ("deployment.environment.name", "deployment.environment")
_DB_SYSTEM: Final = ("db.system", "db.system.name")

_LOW64: Final = (1 << 64) - 1
_AUTO_KEEP: Final = 1.0  # exported spans were sampled by the SDK: keep
_CONSUMED: Final = frozenset(
    {semconv.DD_OPERATION_NAME, semconv.DD_RESOURCE_NAME, semconv.DD_SPAN_TYPE}
)
_KIND: Final = {kind: kind.name.lower() for kind in SpanKind}
_MAX_ANCESTORS: Final = 16  # attempt -> operation is 1-2 hops; bounds a malformed chain
_MAX_RESOURCES: Final = 64  # distinct Resource objects: one per provider, in practice


def parse_tags(text: str) -> dict[str, str]:
    """``DD_TAGS``: ``"k:v,k2:v2"`` or ``"k:v k2:v2"`` (commas win, as in ddtrace)."""
    items = text.split(",") if "," in text else text.split()
    tags: dict[str, str] = {}
    for item in items:
        key, _, value = item.strip().partition(":")
        if key.strip():
            tags[key.strip()] = value.strip()
    return tags


def _is_operation(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return (
        span.kind is SpanKind.CLIENT
        and scope is not None
        and scope.name == semconv.INSTRUMENTATION_NAME
    )


def is_child_of_operation(span_name: str, attributes: Mapping[str, Any]) -> bool:
    """Attempt and phase spans: measured, and named after their operation's resource."""
    return span_name == semconv.SPAN_ATTEMPT or semconv.STRIPE_PHASE in attributes


@functools.lru_cache(maxsize=1024)  # scope names are few
def fallback_name(scope_name: str, kind: SpanKind) -> str:
    """``{scope}.{kind}``, as ddtrace names OTel spans that carry no operation name."""
    return f"{scope_name or 'opentelemetry'}.{_KIND[kind]}".lower()


def operation_name(
    span_name: str, attributes: Mapping[str, Any], operation: bool, fallback: str
) -> str:
    """Datadog's operation name; *fallback* (``{scope}.{kind}``) for spans not ours."""
    name = attributes.get(semconv.DD_OPERATION_NAME)
    if isinstance(name, str) and name:
        return name
    if operation:
        return semconv.DD_OPNAME_REQUEST
    if span_name in semconv.ALL_SPAN_NAMES:
        return span_name
    if semconv.STRIPE_TRANSACTION in attributes:
        return semconv.DD_OPNAME_TRANSACTION
    return fallback


def span_type(attributes: Mapping[str, Any], operation: bool) -> str:
    explicit = attributes.get(semconv.DD_SPAN_TYPE)
    if isinstance(explicit, str):
        return explicit
    if operation:
        return TYPE_HTTP
    if any(key in attributes for key in _DB_SYSTEM):
        return TYPE_SQL
    return TYPE_CUSTOM


def _plain_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes as a plain dict, read-only.

    ``span.attributes`` is a proxy over BoundedAttributes, a MutableMapping written in
    Python: every lookup and iteration step is a Python call, most of the mapping's cost.
    An ended span's attributes no longer change (the SDK refuses writes after end), so
    its inner dict is read directly; should the SDK change that private layout, the
    attributes are copied once instead.
    """
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner
    return dict(span.attributes or {})


def _attr_str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return json.dumps(list(value), default=str)
    return str(value)


class SpanMapper:
    """Maps chunks of spans; ``service``/``env``/``version``/``tags`` override ``DD_*``."""

    def __init__(
        self,
        service: str | None = None,
        env: str | None = None,
        version: str | None = None,
        tags: Mapping[str, str] | str | None = None,
    ) -> None:
        self._service = service or os.environ.get("DD_SERVICE") or None
        self._env = env or os.environ.get("DD_ENV") or None
        self._version = version or os.environ.get("DD_VERSION") or None
        self._tags = parse_tags(os.environ.get("DD_TAGS", ""))
        if tags:
            self._tags.update(parse_tags(tags) if isinstance(tags, str) else tags)
        # id(resource) -> (the resource, service, base meta). The resource is kept so an
        # id cannot be reused by another object while its entry lives.
        self._resources: dict[int, tuple[Resource, str, dict[str, str]]] = {}

    def _base(self, resource: Resource) -> tuple[str, dict[str, str]]:
        hit = self._resources.get(id(resource))
        if hit is not None and hit[0] is resource:
            return hit[1], hit[2]
        attrs = resource.attributes
        service = self._service
        if service is None:
            named = attrs.get(_RES_SERVICE)
            # The SDK's placeholder ("unknown_service:python") names nothing.
            if isinstance(named, str) and named and not named.startswith("unknown_service"):
                service = named
        env = self._env or next((attrs[k] for k in _RES_ENV if attrs.get(k)), None)
        version = self._version or attrs.get(_RES_VERSION)
        meta = dict(self._tags)
        if env:
            meta[META_ENV] = str(env)
        if version:
            meta[META_VERSION] = str(version)
        if len(self._resources) >= _MAX_RESOURCES:
            self._resources.clear()
        self._resources[id(resource)] = (resource, service or DEFAULT_SERVICE, meta)
        return service or DEFAULT_SERVICE, meta

    def map_chunk(self, spans: Sequence[ReadableSpan]) -> list[DDSpan]:
        """Map the spans of one trace (whole, or a partial flush of it).

        The first span carries the trace id's high 64 bits (``_dd.p.tid``), unless they
        are zero (a 64-bit id, e.g. propagated from an old Datadog tracer).
        """
        by_id = {s.context.span_id: s for s in spans if s.context is not None}
        resources: dict[int, str] = {}
        mapped = [self._map(span, by_id, resources) for span in spans]
        if mapped and spans[0].context is not None:
            high = spans[0].context.trace_id >> 64
            if high:
                mapped[0]["meta"][META_TRACE_ID_HIGH] = f"{high:016x}"
        return mapped

    def _resource(
        self, span: ReadableSpan, by_id: Mapping[int, ReadableSpan], memo: dict[int, str]
    ) -> str:
        span_id = span.context.span_id if span.context is not None else 0
        found = memo.get(span_id)
        if found is None:
            attributes = _plain_attributes(span)
            found = self._resource_of(span, attributes, _is_operation(span), by_id, memo)
        return found

    def _resource_of(
        self,
        span: ReadableSpan,
        attributes: Mapping[str, Any],
        operation: bool,
        by_id: Mapping[int, ReadableSpan],
        memo: dict[int, str],
    ) -> str:
        found = attributes.get(semconv.DD_RESOURCE_NAME)
        if not isinstance(found, str) or not found:
            found = None
            if not operation and is_child_of_operation(span.name, attributes):
                parent = span.parent
                for _ in range(_MAX_ANCESTORS):
                    ancestor = by_id.get(parent.span_id) if parent is not None else None
                    if ancestor is None:
                        break
                    if _is_operation(ancestor):
                        found = self._resource(ancestor, by_id, memo)
                        break
                    parent = ancestor.parent
        found = found or span.name
        if span.context is not None:
            memo[span.context.span_id] = found
        return found

    def _map(
        self, span: ReadableSpan, by_id: Mapping[int, ReadableSpan], memo: dict[int, str]
    ) -> DDSpan:
        attributes = _plain_attributes(span)
        service, base = self._base(span.resource)
        meta = base.copy()
        metrics: dict[str, float] = {}
        for key, value in attributes.items():
            kind = type(value)
            if kind is str:
                if key not in _CONSUMED:
                    meta[key] = value
            elif kind is bool:
                meta[key] = "true" if value else "false"
            elif kind is int or kind is float:
                try:
                    metrics[key] = float(value)
                except OverflowError:  # an int beyond a double's range: keep it as text
                    meta[key] = str(value)
            else:
                meta[key] = _attr_str(value)
        meta[META_SPAN_KIND] = _KIND[span.kind]
        status = attributes.get(semconv.HTTP_RESPONSE_STATUS_CODE)
        if isinstance(status, int):
            # So trace metrics (hits/errors by status, the 429 panel) split by status code.
            meta[META_HTTP_STATUS_CODE] = str(status)

        name = span.name
        scope = span.instrumentation_scope
        operation = _is_operation(span)
        fallback = fallback_name(scope.name if scope is not None else "", span.kind)
        if not operation and is_child_of_operation(name, attributes):
            # Trace metrics (hits, errors, latency) exist only for top-level or measured
            # spans; these are never top-level.
            metrics[semconv.DD_MEASURED] = 1.0

        parent = span.parent
        if parent is None or parent.is_remote:
            metrics[METRIC_TOP_LEVEL] = 1.0
            metrics[METRIC_SAMPLING_PRIORITY] = _AUTO_KEEP

        error = 0
        status = span.status
        if status.status_code is StatusCode.ERROR:
            error = 1
            _error_meta(span, meta)
        events = span.events
        if events:
            meta[META_EVENTS] = _events_json(events)

        context = span.context
        start = span.start_time or 0
        resource = memo.get(context.span_id) if context is not None else None
        return {
            "trace_id": context.trace_id & _LOW64 if context is not None else 0,
            "span_id": context.span_id if context is not None else 0,
            "parent_id": parent.span_id if parent is not None else 0,
            "name": operation_name(name, attributes, operation, fallback),
            "service": service,
            "resource": resource or self._resource_of(span, attributes, operation, by_id, memo),
            "type": span_type(attributes, operation),
            "start": start,
            "duration": max(0, (span.end_time or start) - start),
            "error": error,
            "meta": meta,
            "metrics": metrics,
        }


def _error_meta(span: ReadableSpan, meta: dict[str, str]) -> None:
    """error.type/message/stack from the last ``exception`` event, else the status."""
    for event in reversed(span.events):
        if event.name == semconv.EVENT_EXCEPTION:
            attrs = event.attributes or {}
            for source, target in (
                (semconv.EXCEPTION_TYPE, semconv.ERROR_TYPE),
                (semconv.EXCEPTION_MESSAGE, META_ERROR_MESSAGE),
                (semconv.EXCEPTION_STACKTRACE, META_ERROR_STACK),
            ):
                value = attrs.get(source)
                if value is not None:
                    meta[target] = _attr_str(value)
            return
    if span.status.description:
        meta[META_ERROR_MESSAGE] = span.status.description


def _events_json(events: Sequence[Event]) -> str:
    # The shape ddtrace gives span events in meta["events"].
    return json.dumps(
        [
            {
                "name": event.name,
                "time_unix_nano": event.timestamp,
                "attributes": dict(event.attributes or {}),
            }
            for event in events
        ],
        default=str,
        separators=(",", ":"),
    )
