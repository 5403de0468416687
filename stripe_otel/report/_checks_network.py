"""Checks on single calls: how far Stripe is, how often a connection is set up, how big
the responses are."""

from __future__ import annotations

from stripe_otel import semconv as sc
from stripe_otel.report._rules import (
    HIGH_RTT_MIN_CALLS,
    HIGH_RTT_MS,
    NEW_CONNECTIONS_MIN_ATTEMPTS,
    NEW_CONNECTIONS_SHARE,
    SLOW_DECODE_MIN_MS,
    SLOW_DECODE_P95_MS,
    SLOW_DECODE_SHARE,
    Finding,
    fraction,
    median,
    ms,
    phase_spans,
)
from stripe_otel.report._summary import Summary

__all__ = ["high_rtt", "new_connections", "slow_decode"]

_REQUEST_LEG = "request"  # the value of stripe.network.leg on the leg that connects


def high_rtt(summary: Summary) -> Finding | None:
    spans = phase_spans(summary, sc.PHASE_API_PROCESSING)
    rtts = [v for s in spans if (v := s.number(sc.STRIPE_NETWORK_RTT_MS)) is not None]
    mid = median(rtts)
    if mid is None or len(rtts) < HIGH_RTT_MIN_CALLS or mid <= HIGH_RTT_MS:
        return None
    hosts = sorted(
        {h for s in summary.operation_spans() if (h := s.text(sc.SERVER_ADDRESS)) is not None}
    )
    return Finding(
        "high_rtt",
        "High round-trip time to Stripe",
        f"Median RTT to {', '.join(hosts) or 'Stripe'} is {mid:.1f} ms over {len(rtts)} "
        f"calls (threshold {HIGH_RTT_MS:.0f} ms); every call pays it at least once, a new "
        "TLS connection 2-3 times more. Deploy closer to Stripe (us-east or eu-west).",
        "high" if mid > 2 * HIGH_RTT_MS else "medium",
        {"median_rtt_ms": ms(mid), "calls": len(rtts), "hosts": hosts},
    )


def new_connections(summary: Summary) -> Finding | None:
    legs = [
        s
        for s in phase_spans(summary, sc.PHASE_NETWORK)
        if s.text(sc.STRIPE_NETWORK_LEG) == _REQUEST_LEG
        and s.flag(sc.STRIPE_CONNECTION_REUSED) is not None
    ]
    new = [s for s in legs if s.flag(sc.STRIPE_CONNECTION_REUSED) is False]
    if len(legs) < NEW_CONNECTIONS_MIN_ATTEMPTS or len(new) / len(legs) <= NEW_CONNECTIONS_SHARE:
        return None
    share = fraction(len(new) / len(legs))
    tls = median([v for s in new if (v := s.number(sc.STRIPE_NETWORK_TLS_MS)) is not None])
    connect = median([v for s in new if (v := s.number(sc.STRIPE_NETWORK_CONNECT_MS)) is not None])
    setup_keys = (sc.STRIPE_NETWORK_DNS_MS, sc.STRIPE_NETWORK_CONNECT_MS, sc.STRIPE_NETWORK_TLS_MS)
    setup_ms = sum(s.number(k) or 0.0 for s in new for k in setup_keys)
    handshake = f"median TLS handshake {tls:.1f} ms" if tls is not None else "no TLS measured"
    if connect is not None:
        handshake += f", median TCP connect {connect:.1f} ms"
    return Finding(
        "new_connections",
        "Many new connections (TLS handshakes)",
        f"{len(new)} of {len(legs)} attempts ({share:.0%}) opened a new connection "
        f"(threshold {NEW_CONNECTIONS_SHARE:.0%}); {handshake}; {setup_ms:.1f} ms spent "
        "setting up connections in all. Reuse one client (one StripeClient / http_client "
        "per process) so keep-alive connections are reused.",
        "high" if share > 2 * NEW_CONNECTIONS_SHARE else "medium",
        {
            "new_connections": len(new),
            "attempts": len(legs),
            "share": share,
            "median_tls_ms": None if tls is None else ms(tls),
            "median_connect_ms": None if connect is None else ms(connect),
            "setup_ms_total": ms(setup_ms),
        },
    )


def slow_decode(summary: Summary) -> Finding | None:
    slow = []
    for op in summary.operations:
        decode = op.phases.get(sc.PHASE_SDK_DECODE)
        if decode is None or op.duration.mean <= 0:
            continue
        share = decode.mean / op.duration.mean
        if decode.p95 > SLOW_DECODE_P95_MS or (
            share > SLOW_DECODE_SHARE and decode.p50 >= SLOW_DECODE_MIN_MS
        ):
            slow.append((op.name, op.count, decode.p50, decode.p95, fraction(share)))
    if not slow:
        return None
    cited = "; ".join(
        f"{name}: p95 decode {p95:.1f} ms (p50 {p50:.1f} ms), {share:.0%} of the call, "
        f"{count} calls"
        for name, count, p50, p95, share in slow
    )
    return Finding(
        "slow_decode",
        "Large responses / slow SDK decode",
        f"{cited} (thresholds: p95 > {SLOW_DECODE_P95_MS:.0f} ms, or > "
        f"{SLOW_DECODE_SHARE:.0%} of the call with p50 >= {SLOW_DECODE_MIN_MS:.0f} ms). "
        "Fetch less: use expand only where needed, and smaller pages (limit).",
        "high" if any(p95 > 5 * SLOW_DECODE_P95_MS for *_, p95, _ in slow) else "medium",
        {
            "operations": [
                {
                    "operation": name,
                    "calls": count,
                    "p50_decode_ms": ms(p50),
                    "p95_decode_ms": ms(p95),
                    "share": share,
                }
                for name, count, p50, p95, share in slow
            ]
        },
    )
