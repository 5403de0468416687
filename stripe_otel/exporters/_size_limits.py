"""Honeycomb's (and most OTLP backends') size limits: string fields under 64 KB, events
under 1 MB. Oversized values are cut in the export path, and only for the spans that need
it (a cheap length check first), so the common case costs nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.util.types import Attributes

_logger = logging.getLogger("stripe_otel.exporters")


# --- Honeycomb's size limits ---------------------------------------------------------
#: String fields must stay below 64 KB; 64,000 is below it whether KB means 1000 or 1024.
MAX_VALUE_BYTES: Final = 64_000
#: Events must stay below 1 MB: this is for the string values, leaving ~100 KB for the
#: name, ids, numbers and the resource attributes Honeycomb copies into every event.
MAX_EVENT_STRING_BYTES: Final = 900_000
# A str of at most this many characters is at most MAX_VALUE_BYTES in UTF-8 (4 bytes/char
# at most), so the common case never encodes anything.
_SAFE_CHARS: Final = MAX_VALUE_BYTES // 4


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _string_bytes(value: object) -> int:
    if isinstance(value, str):
        return _utf8_len(value)
    if isinstance(value, tuple | list):
        # Honeycomb stores an array as one string field: the limit is on the whole.
        return sum(_utf8_len(item) for item in value if isinstance(item, str))
    return 0


def _might_overflow(attributes: Attributes) -> bool:
    """Cheap, no encoding: False means surely within both limits."""
    if not attributes:
        return False
    total = 0
    for value in attributes.values():
        if isinstance(value, str):
            chars = len(value)
        elif isinstance(value, tuple | list):
            chars = sum(len(item) for item in value if isinstance(item, str))
        else:
            continue
        if chars > _SAFE_CHARS:
            return True
        total += chars
    return total > MAX_EVENT_STRING_BYTES // 4


def _truncate_text(text: str, limit: int) -> str:
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    # A cut can split a multi-byte character; "ignore" drops just that fragment (and any
    # lone surrogate, which protobuf could not encode anyway).
    return data[:limit].decode("utf-8", "ignore")


def _truncate(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return _truncate_text(value, limit)
    kept: list[Any] = []
    room = limit
    for item in value:
        size = _utf8_len(item) if isinstance(item, str) else 0
        if size > room:
            if room:
                kept.append(_truncate_text(item, room))
            break
        kept.append(item)
        room -= size
    return tuple(kept)


def _cap_within(sizes: list[int], budget: int) -> int:
    """The largest per-value cap under which all the values together fit *budget*."""
    low, high = 0, MAX_VALUE_BYTES
    while low < high:
        mid = (low + high + 1) // 2
        if sum(min(size, mid) for size in sizes) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _fit_attributes(attributes: Attributes, dropped: int) -> Attributes | None:
    """Attributes with oversized strings cut, or None if nothing needs cutting."""
    if not attributes or not _might_overflow(attributes):
        return None
    sizes = {key: size for key, value in attributes.items() if (size := _string_bytes(value))}
    cap = MAX_VALUE_BYTES
    if sum(min(size, cap) for size in sizes.values()) > MAX_EVENT_STRING_BYTES:
        # Too much in total even at 64 KB each: cut the largest values first.
        cap = _cap_within(list(sizes.values()), MAX_EVENT_STRING_BYTES)
    if all(size <= cap for size in sizes.values()):
        return None
    fitted = dict(attributes)
    for key, size in sizes.items():
        if size > cap:
            fitted[key] = _truncate(attributes[key], cap)
    return _bounded(fitted, dropped)


def _bounded(attributes: Attributes, dropped: int) -> BoundedAttributes:
    bounded = BoundedAttributes(maxlen=None, attributes=attributes, immutable=True)
    bounded.dropped = dropped  # so the exported dropped_attributes_count stays true
    return bounded


def fit_span(span: ReadableSpan) -> ReadableSpan:
    """*span* itself, or a copy whose string attribute values fit Honeycomb's limits."""
    attributes = _fit_attributes(span.attributes, span.dropped_attributes)
    fitted_events: list[Event] | None = None
    for index, event in enumerate(span.events):
        fitted = _fit_attributes(event.attributes, event.dropped_attributes)
        if fitted is not None:
            fitted_events = fitted_events or list(span.events)
            fitted_events[index] = Event(event.name, fitted, event.timestamp)
    if attributes is None and fitted_events is None:
        return span
    events = span.events
    if fitted_events is not None:
        events = BoundedList.from_seq(None, fitted_events)
        events.dropped = span.dropped_events  # as for attributes: keep the count true
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=(
            _bounded(span.attributes, span.dropped_attributes) if attributes is None else attributes
        ),
        events=events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
