"""Raw timestamps of one HTTP attempt, gathered by the transport hooks.

The transport hooks only *mark* moments (connect started, request sent, headers in...);
they never format spans. A :class:`Timeline` is made current (a contextvar) by the
attempt hook for the duration of the exchange, so a hook that finds none does nothing:
work is done only for attempts of recording Stripe operations.

Moments are taken with ``perf_counter_ns`` (monotonic, fine-grained) and converted to
wall-clock nanoseconds against one anchor pair taken at the attempt's start, so every
span derived from a timeline lines up exactly with the attempt span.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

_current: ContextVar[Timeline | None] = ContextVar("stripe_otel_timeline", default=None)
#: The ContextVar itself, for transport wrappers on every HTTP call of the app: reading it
#: directly (no Python frame) is what keeps them free outside timed Stripe attempts.
current_var = _current


class Timeline:
    """Moments of one attempt, in perf_counter nanoseconds. First mark wins: nested
    layers (urllib3 over http.client) report the same moment twice."""

    __slots__ = (
        "body_end",
        "connect_end",
        "connect_start",
        "dns_end",
        "dns_start",
        "headers",
        "perf0",
        "send_end",
        "send_start",
        "tls_cpu_ns",
        "tls_cpu_start",
        "tls_end",
        "tls_start",
        "tls_version",
        "wall0",
    )

    def __init__(self, wall0: int, perf0: int) -> None:
        self.wall0 = wall0
        self.perf0 = perf0
        self.dns_start: int | None = None
        self.dns_end: int | None = None
        self.connect_start: int | None = None
        self.connect_end: int | None = None
        self.tls_start: int | None = None
        self.tls_end: int | None = None
        self.tls_version: str | None = None
        #: CPU time this thread spent in the TLS handshake (sync transports only): crypto,
        #: not round trip, so the RTT estimate leaves it out.
        self.tls_cpu_ns: int | None = None
        self.tls_cpu_start: int | None = None
        self.send_start: int | None = None
        self.send_end: int | None = None
        self.headers: int | None = None
        self.body_end: int | None = None

    def wall(self, perf_ns: int) -> int:
        return self.wall0 + (perf_ns - self.perf0)

    def mark(self, field: str) -> None:
        if getattr(self, field) is None:
            setattr(self, field, time.perf_counter_ns())

    def tls_done(self, cpu_at_start: int, ssl_socket: object) -> None:
        """The TLS handshake that began when the thread's CPU clock read *cpu_at_start*
        has finished on *ssl_socket*: note its end, CPU time and protocol version."""
        self.tls_cpu_ns = cpu_now() - cpu_at_start
        self.mark("tls_end")
        version = getattr(ssl_socket, "version", lambda: None)()
        self.tls_version = version if isinstance(version, str) else None

    @property
    def opened_connection(self) -> bool:
        return self.connect_start is not None


def start() -> tuple[Timeline, object]:
    """A new timeline, made current; returns it and the token to reset with."""
    timeline = Timeline(time.time_ns(), time.perf_counter_ns())
    return timeline, _current.set(timeline)


def stop(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current() -> Timeline | None:
    return _current.get()


def cpu_now() -> int:
    return time.thread_time_ns()


def mark(field: str) -> None:
    """Mark *field* on the current timeline, if any. For transport hooks."""
    timeline = _current.get()
    if timeline is not None:
        timeline.mark(field)
