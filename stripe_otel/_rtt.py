"""Round-trip time to each Stripe host, learnt from connection set-up.

Stripe sends no server-timing header, so the time Stripe spent on a request can only be
estimated as (response headers received - request sent) - RTT. The RTT comes from a
new connection's handshakes: a TCP connect is one round trip; a TLS 1.3 handshake is one
round trip plus crypto, TLS 1.2 two. We take the larger of the TCP sample and the TLS
sample (so a path whose TCP handshake is answered nearby, as by a local proxy or a
TLS-terminating edge, still sees the TLS round trip) and keep the minimum of the last
few samples per host: queueing only ever adds to a round trip, so the minimum is the
best estimate of the path itself. Reused connections use the remembered value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

_MAX_HOSTS = 64
_SAMPLES_PER_HOST = 16
_lock = threading.Lock()
_samples: OrderedDict[tuple[str, int], deque[int]] = OrderedDict()


def sample_from_handshakes(
    connect_ns: int | None, tls_ns: int | None, tls_version: str | None
) -> int | None:
    """One RTT sample from a new connection's TCP connect and TLS handshake durations."""
    tls_rtt = None
    if tls_ns is not None:
        tls_rtt = tls_ns if tls_version in (None, "TLSv1.3") else tls_ns // 2
    candidates = [ns for ns in (connect_ns, tls_rtt) if ns is not None and ns >= 0]
    return max(candidates) if candidates else None


def record(host: tuple[str, int], rtt_ns: int) -> None:
    with _lock:
        samples = _samples.get(host)
        if samples is None:
            samples = _samples[host] = deque(maxlen=_SAMPLES_PER_HOST)
            while len(_samples) > _MAX_HOSTS:
                _samples.popitem(last=False)
        else:
            _samples.move_to_end(host)
        samples.append(rtt_ns)


def estimate(host: tuple[str, int]) -> int | None:
    """The current RTT estimate for *host*: the minimum of its recent samples."""
    with _lock:
        samples = _samples.get(host)
        return min(samples) if samples else None


def forget() -> None:
    """Drop every sample (tests, and uninstrument)."""
    with _lock:
        _samples.clear()
