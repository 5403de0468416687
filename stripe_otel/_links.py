"""Remembering which span made which Stripe request, so a webhook can link back to it.

Stripe's events carry the ``request.id`` of the API call that caused them. When that call
was made by this process, its span context is here (a bounded LRU: the newest 10,000
requests), and the webhook span links to it. Across processes, the same
``stripe.request_id`` attribute on both spans lets a backend join them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from opentelemetry.trace import SpanContext

_MAX = 10_000
_lock = threading.Lock()
_by_request_id: OrderedDict[str, SpanContext] = OrderedDict()


def remember(request_id: str, context: SpanContext) -> None:
    with _lock:
        _by_request_id[request_id] = context
        _by_request_id.move_to_end(request_id)
        if len(_by_request_id) > _MAX:
            _by_request_id.popitem(last=False)


def lookup(request_id: str) -> SpanContext | None:
    with _lock:
        return _by_request_id.get(request_id)


def forget() -> None:
    with _lock:
        _by_request_id.clear()
