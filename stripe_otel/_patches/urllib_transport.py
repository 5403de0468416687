"""urllib (``stripe.UrllibClient``): time it at ``http.client``.

``HTTPConnection.connect`` is DNS + TCP; ``HTTPSConnection.connect`` is that plus the TLS
handshake, so TLS runs from the end of the TCP connect to the end of the HTTPS connect.
urllib3 subclasses these classes but overrides ``connect`` and ``request``; its
``getresponse`` calls ours first, and the first mark wins, so nothing is counted twice.
"""

from __future__ import annotations

from typing import Any

from stripe_otel import _timing
from stripe_otel._guard import safe_call
from stripe_otel._patches.urllib3_transport import _around
from stripe_otel._patching import Patch


def _tls_started() -> tuple[_timing.Timeline, int] | None:
    timeline = _timing.current()
    return None if timeline is None else (timeline, _timing.cpu_now())


def _tls_finished(started: tuple[_timing.Timeline, int], connection: Any) -> None:
    timeline, cpu0 = started
    if timeline.tls_start is None and timeline.connect_end is not None:
        timeline.tls_start = timeline.connect_end  # TLS follows the TCP connect at once
    timeline.tls_done(cpu0, connection.sock)  # the TCP connect's CPU share is nil


def _https_connect(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    started = safe_call(_tls_started)
    result = wrapped(*args, **kwargs)
    if started is not None:
        safe_call(_tls_finished, started, instance)
    return result


def patches() -> list[Patch]:
    return [
        Patch("http.client", "HTTPConnection", "connect", _around("connect_start", "connect_end")),
        Patch("http.client", "HTTPSConnection", "connect", _https_connect),
        Patch("http.client", "HTTPConnection", "request", _around("send_start", "send_end")),
        Patch("http.client", "HTTPConnection", "getresponse", _around(None, "headers")),
    ]
