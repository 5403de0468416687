"""httpx: time the exchange through httpcore's ``trace`` request extension.

``Client.send`` / ``AsyncClient.send`` get the request before httpcore does; during a
timed Stripe attempt we set ``request.extensions["trace"]`` to a callback that marks the
current :class:`~stripe_otel._timing.Timeline` (a plain function for ``Client``, an
``async def`` for ``AsyncClient``: httpcore rejects the wrong kind). An app's own trace
callback is kept and called after ours.

The callback must never raise: ``HTTPXClient`` turns *any* exception inside the transport
into a retried ``APIConnectionError``, so a bug here would become a failed payment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stripe_otel import _timing
from stripe_otel._guard import safe_call
from stripe_otel._patching import Patch

_timeline = _timing.current_var

_EVENTS = {
    "connection.connect_tcp.started": "connect_start",
    "connection.connect_tcp.complete": "connect_end",
    "connection.start_tls.started": "tls_start",
    "connection.start_tls.complete": "tls_end",
    "http11.send_request_headers.started": "send_start",
    "http11.send_request_body.complete": "send_end",
    "http11.receive_response_headers.complete": "headers",
    "http11.receive_response_body.complete": "body_end",
    "http2.send_request_headers.started": "send_start",
    "http2.send_request_body.complete": "send_end",
    "http2.receive_response_headers.complete": "headers",
    "http2.receive_response_body.complete": "body_end",
}


def _observe(timeline: _timing.Timeline, name: str, info: dict[str, Any], sync: bool) -> None:
    field = _EVENTS.get(name)
    if field is not None:
        timeline.mark(field)
    # Thread CPU means our handshake's CPU only on a sync client; an event loop's
    # thread also runs other tasks in between.
    if sync and name == "connection.start_tls.started":
        timeline.tls_cpu_start = _timing.cpu_now()
    if sync and name == "connection.start_tls.complete" and timeline.tls_cpu_start:
        timeline.tls_cpu_ns = _timing.cpu_now() - timeline.tls_cpu_start
    if name == "connection.start_tls.complete":
        ssl_object = info["return_value"].get_extra_info("ssl_object")
        timeline.tls_version = ssl_object.version() if ssl_object is not None else None


def _sync_trace(timeline: _timing.Timeline, chained: Callable[..., Any] | None) -> Any:
    def trace(name: str, info: dict[str, Any]) -> None:
        safe_call(_observe, timeline, name, info, True)  # never raise: see above
        if chained is not None:
            chained(name, info)

    return trace


def _async_trace(timeline: _timing.Timeline, chained: Callable[..., Any] | None) -> Any:
    async def trace(name: str, info: dict[str, Any]) -> None:
        safe_call(_observe, timeline, name, info, False)
        if chained is not None:
            await chained(name, info)

    return trace


def _attach(request: Any, is_async: bool) -> None:
    timeline = _timing.current()
    if timeline is None:
        return
    extensions = request.extensions
    make = _async_trace if is_async else _sync_trace
    extensions["trace"] = make(timeline, extensions.get("trace"))


def _wrapper(is_async: bool) -> Callable[..., Any]:
    def send(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        # Every httpx request of the app passes here; only a timed Stripe attempt has work.
        if _timeline.get() is not None:
            safe_call(_attach, args[0] if args else kwargs.get("request"), is_async)
        return wrapped(*args, **kwargs)

    return send


def patches() -> list[Patch]:
    return [
        Patch("httpx", "Client", "send", _wrapper(is_async=False)),
        Patch("httpx", "AsyncClient", "send", _wrapper(is_async=True)),
    ]
