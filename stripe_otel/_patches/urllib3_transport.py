"""requests / urllib3 2.x: time connect, TLS, send and the wait for response headers.

urllib3 calls these through module attributes or methods, so wrapping them is enough:
``util.connection.create_connection`` (DNS + TCP),
``connection._ssl_wrap_socket_and_match_hostname`` (TLS), ``HTTPConnection.request``
(send) and ``HTTPConnection.getresponse`` (headers).
The body is read by requests afterwards, so the attempt's end closes the receive step.
"""

from __future__ import annotations

from typing import Any

from stripe_otel import _timing
from stripe_otel._guard import safe_call
from stripe_otel._patching import Patch

_timeline = _timing.current_var


def _mark(field: str) -> Any:
    """Mark *field* on the current timeline (if any); returns the timeline."""
    timeline = _timing.current()
    if timeline is not None:
        timeline.mark(field)
    return timeline


def _around(start: str | None, end: str) -> Any:
    """A wrapper that marks *start* before the call and *end* after it, if timing.

    These wrap every HTTP request of the process, not only Stripe's: outside a timed
    attempt the wrapper costs one ContextVar read and nothing else.
    """

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        timeline = _timeline.get()
        if timeline is None:
            return wrapped(*args, **kwargs)
        if start is not None:
            safe_call(timeline.mark, start)
        result = wrapped(*args, **kwargs)
        safe_call(timeline.mark, end)
        return result

    return wrapper


def _tls_started() -> tuple[_timing.Timeline, int] | None:
    timeline = _mark("tls_start")
    return None if timeline is None else (timeline, _timing.cpu_now())


def _tls_finished(started: tuple[_timing.Timeline, int], result: Any) -> None:
    timeline, cpu0 = started
    timeline.tls_done(cpu0, result.socket)


def _tls(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    started = safe_call(_tls_started)
    result = wrapped(*args, **kwargs)
    if started is not None:
        safe_call(_tls_finished, started, result)
    return result


def patches() -> list[Patch]:
    return [
        Patch(
            "urllib3.util.connection",
            "",
            "create_connection",
            _around("connect_start", "connect_end"),
        ),
        Patch("urllib3.connection", "", "_ssl_wrap_socket_and_match_hostname", _tls),
        Patch("urllib3.connection", "HTTPConnection", "request", _around("send_start", "send_end")),
        Patch("urllib3.connection", "HTTPConnection", "getresponse", _around(None, "headers")),
    ]
