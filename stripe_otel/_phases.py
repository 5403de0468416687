"""Timestamps in, phases out: how one attempt's time divides into network and Stripe.

Pure functions, no sockets, no spans: unit-testable with made-up timelines.

An attempt [start, end] is tiled by three intervals, with no gaps and no overlaps:

* ``network`` (request leg): from the attempt's start — connection set-up (DNS, TCP,
  TLS) when a new connection is opened, writing the request — until the request has
  travelled half a round trip;
* ``api_processing``: what remains of the wait for the response headers once a full
  round trip is taken out: ``(headers - sent) - RTT``. An *estimate*: Stripe sends no
  server-timing header. Its error is about the RTT's jitter; a TLS-terminating edge makes
  edge-to-origin time look like processing;
* ``network`` (response leg): the response's half round trip and receiving the body.

If the wait is shorter than the RTT estimate, api_processing is zero and the wait is
split between the two transits.
"""

from __future__ import annotations

from typing import NamedTuple

from stripe_otel import semconv
from stripe_otel._timing import Timeline

#: How the api_processing estimate is made (the value of ``stripe.phase.method``).
METHOD_WAIT_MINUS_RTT = "headers_wait_minus_rtt"
METHOD_NO_RTT = "headers_wait_no_rtt"


# NamedTuples, not dataclasses: the same immutable records, without dataclass's class
# generation at import (which cost more start-up than the rest of these modules).
class Interval(NamedTuple):
    phase: str
    leg: str | None
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


class Breakdown(NamedTuple):
    """The three intervals of an attempt plus the facts behind them (wall-clock ns)."""

    intervals: tuple[Interval, Interval, Interval]
    rtt_ns: int | None
    method: str
    dns_ns: int | None
    connect_ns: int | None
    tls_ns: int | None
    send_ns: int | None
    receive_ns: int

    def total(self, phase: str) -> int:
        return sum(i.duration_ns for i in self.intervals if i.phase == phase)


def _span(start: int | None, end: int | None) -> int | None:
    return end - start if start is not None and end is not None and end >= start else None


def handshake_durations(t: Timeline) -> tuple[int | None, int | None, int | None]:
    """(dns, tcp connect without dns, tls) of a new connection, in ns."""
    dns = _span(t.dns_start, t.dns_end)
    connect = _span(t.connect_start, t.connect_end)
    # Transports time DNS inside their connect step; report TCP alone.
    inside = t.connect_start is not None and t.dns_start is not None
    if connect is not None and dns is not None and inside and t.dns_start >= t.connect_start:  # type: ignore[operator]
        connect = max(0, connect - dns)
    return dns, connect, _span(t.tls_start, t.tls_end)


def breakdown(t: Timeline, end_perf: int, rtt_ns: int | None) -> Breakdown | None:
    """Tile the attempt [t.perf0, end_perf]; None if the transport gave no timings."""
    if t.send_end is None or t.headers is None or not t.perf0 <= t.send_end <= t.headers:
        return None
    end_perf = max(end_perf, t.headers)
    wait = t.headers - t.send_end
    half = 0 if rtt_ns is None else min(rtt_ns, wait) // 2
    api_start, api_end = t.send_end + half, t.headers - half
    start, end = t.wall0, t.wall(end_perf)
    intervals = (
        Interval(semconv.PHASE_NETWORK, "request", start, t.wall(api_start)),
        Interval(semconv.PHASE_API_PROCESSING, None, t.wall(api_start), t.wall(api_end)),
        Interval(semconv.PHASE_NETWORK, "response", t.wall(api_end), end),
    )
    dns, connect, tls = handshake_durations(t)
    return Breakdown(
        intervals=intervals,
        rtt_ns=rtt_ns,
        method=METHOD_NO_RTT if rtt_ns is None else METHOD_WAIT_MINUS_RTT,
        dns_ns=dns,
        connect_ns=connect,
        tls_ns=tls,
        send_ns=_span(t.send_start, t.send_end),
        receive_ns=end_perf - t.headers,
    )
