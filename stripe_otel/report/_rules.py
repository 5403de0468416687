"""The vocabulary of the checks: :class:`Finding` and the thresholds they decide against.

Each threshold is the line a performance engineer would draw; the comment says why there.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stripe_otel import semconv as sc
from stripe_otel.report._load import SpanRecord
from stripe_otel.report._summary import Summary

#: Median RTT to Stripe above which to suggest moving closer. From us-east or eu-west a
#: round trip to api.stripe.com is ~1-20 ms; 60 ms means another continent, paid at least
#: once per call and 2-3 times more on each new TLS connection.
HIGH_RTT_MS = 60.0
#: Fewer RTT samples than this say too little about the path.
HIGH_RTT_MIN_CALLS = 5
#: Share of attempts opening a new connection (TCP + TLS) above which keep-alive is not
#: working. One long-lived client opens one per pool slot, so well under this.
NEW_CONNECTIONS_SHARE = 0.20
#: Below this many attempts, the first connections of a short run dominate the share.
NEW_CONNECTIONS_MIN_ATTEMPTS = 20
#: p95 SDK decode time of an operation above which the responses are too big to decode.
SLOW_DECODE_P95_MS = 20.0
#: Share of an operation's time spent decoding above which it is worth fetching less...
SLOW_DECODE_SHARE = 0.15
#: ...provided the median decode is at least this long: a 0.2 ms decode can be 15% of a
#: 1.3 ms call to a nearby server and still not matter.
SLOW_DECODE_MIN_MS = 5.0
#: Share of operations that needed a retry above which retries are reported; any 429 is.
RETRY_SHARE = 0.01
#: Median share of a transaction spent in DB writes above which the DB, not Stripe, is
#: where to look.
DB_WRITE_SHARE = 0.40
#: Fewer transactions of a name than this make too thin a median.
DB_WRITE_MIN_TRANSACTIONS = 3


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of advice. ``detail`` quotes the numbers it rests on; ``evidence`` holds
    them (JSON-serializable), so the advice can be checked against the data."""

    code: str
    title: str
    detail: str
    severity: str  # "high", "medium" or "low"
    evidence: dict[str, Any] = field(default_factory=dict)


def ms(value: float) -> float:
    """Milliseconds as cited: one decimal."""
    return round(value, 1)


def fraction(value: float) -> float:
    """A share as cited: whole percent. Text and evidence both use the rounded value, so
    the two never disagree."""
    return round(value, 2)


def count(n: int, noun: str) -> str:
    """``1 attempt``, ``3 attempts``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def phase_spans(summary: Summary, phase: str) -> list[SpanRecord]:
    return [s for s in summary.spans if s.text(sc.STRIPE_PHASE) == phase]
