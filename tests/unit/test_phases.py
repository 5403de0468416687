"""The phase model on made-up timelines: tiling, the RTT subtraction, and the edges."""

from __future__ import annotations

import pytest

from stripe_otel import _rtt, semconv
from stripe_otel._phases import METHOD_NO_RTT, METHOD_WAIT_MINUS_RTT, breakdown, handshake_durations
from stripe_otel._timing import Timeline

MS = 1_000_000


def timeline(**marks_ms: float) -> Timeline:
    """A timeline starting at perf 1000 ms / wall 5000 ms, marks given in ms after start."""
    t = Timeline(wall0=5_000 * MS, perf0=1_000 * MS)
    for field, ms in marks_ms.items():
        setattr(t, field, int((1_000 + ms) * MS))
    return t


def test_intervals_tile_the_attempt_exactly() -> None:
    t = timeline(send_start=1, send_end=2, headers=62)
    result = breakdown(t, end_perf=int(1_070 * MS), rtt_ns=20 * MS)
    assert result is not None
    a, b, c = result.intervals
    assert a.start_ns == 5_000 * MS  # the attempt's start
    assert a.end_ns == b.start_ns and b.end_ns == c.start_ns  # no gaps, no overlaps
    assert c.end_ns == 5_070 * MS  # the attempt's end
    assert sum(i.duration_ns for i in result.intervals) == 70 * MS


def test_processing_is_wait_minus_rtt() -> None:
    # Sent at 2 ms, headers at 62 ms: a 60 ms wait; RTT 20 ms -> 40 ms of processing.
    t = timeline(send_start=1, send_end=2, headers=62)
    result = breakdown(t, end_perf=int(1_070 * MS), rtt_ns=20 * MS)
    assert result is not None
    assert result.total(semconv.PHASE_API_PROCESSING) == 40 * MS
    assert result.total(semconv.PHASE_NETWORK) == 30 * MS  # 2 + 10 + 10 + 8
    assert result.method == METHOD_WAIT_MINUS_RTT
    assert result.receive_ns == 8 * MS
    assert result.send_ns == 1 * MS


def test_rtt_longer_than_the_wait_leaves_no_processing() -> None:
    t = timeline(send_end=2, headers=12)
    result = breakdown(t, end_perf=int(1_013 * MS), rtt_ns=30 * MS)
    assert result is not None
    assert result.total(semconv.PHASE_API_PROCESSING) == 0
    assert result.total(semconv.PHASE_NETWORK) == 13 * MS


def test_without_rtt_the_whole_wait_is_processing_and_says_so() -> None:
    t = timeline(send_end=2, headers=52)
    result = breakdown(t, end_perf=int(1_053 * MS), rtt_ns=None)
    assert result is not None
    assert result.total(semconv.PHASE_API_PROCESSING) == 50 * MS
    assert result.method == METHOD_NO_RTT


@pytest.mark.parametrize("missing", ["send_end", "headers"])
def test_untimed_transport_gives_no_breakdown(missing: str) -> None:
    marks = {"send_end": 2.0, "headers": 12.0}
    del marks[missing]
    assert breakdown(timeline(**marks), end_perf=int(1_020 * MS), rtt_ns=None) is None


def test_dns_is_taken_out_of_connect() -> None:
    t = timeline(connect_start=0, dns_start=0.1, dns_end=3.1, connect_end=5, tls_start=5, tls_end=9)
    dns, connect, tls = handshake_durations(t)
    assert (dns, connect, tls) == (3 * MS, 2 * MS, 4 * MS)


def test_rtt_sample_takes_the_larger_handshake() -> None:
    # A local proxy answers TCP at once; the TLS handshake crosses the real path.
    assert _rtt.sample_from_handshakes(1 * MS, 40 * MS, "TLSv1.3") == 40 * MS
    assert _rtt.sample_from_handshakes(1 * MS, 40 * MS, "TLSv1.2") == 20 * MS  # two round trips
    assert _rtt.sample_from_handshakes(30 * MS, None, None) == 30 * MS
    assert _rtt.sample_from_handshakes(None, None, None) is None


def test_rtt_estimate_is_the_recent_minimum_per_host() -> None:
    _rtt.forget()
    host, other = ("api.stripe.com", 443), ("files.stripe.com", 443)
    for sample in (30, 22, 45):
        _rtt.record(host, sample * MS)
    _rtt.record(other, 90 * MS)
    assert _rtt.estimate(host) == 22 * MS
    assert _rtt.estimate(other) == 90 * MS
    for _ in range(20):  # old samples age out
        _rtt.record(host, 50 * MS)
    assert _rtt.estimate(host) == 50 * MS
    _rtt.forget()
    assert _rtt.estimate(host) is None


def test_rtt_memory_is_bounded() -> None:
    _rtt.forget()
    for port in range(500):
        _rtt.record(("h", port), MS)
    assert _rtt.estimate(("h", 0)) is None  # evicted
    assert _rtt.estimate(("h", 499)) == MS
    _rtt.forget()
