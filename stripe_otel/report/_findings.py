"""What a performance engineer would tell you after reading the traces.

Each check (in :mod:`._checks_network` and :mod:`._checks_flow`) reads the spans, decides
against a threshold documented in :mod:`._rules`, and returns a :class:`Finding` quoting
the numbers it decided on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stripe_otel.report._checks_flow import db_write_dominates, retries, sequential_calls
from stripe_otel.report._checks_network import high_rtt, new_connections, slow_decode
from stripe_otel.report._load import SpanRecord
from stripe_otel.report._rules import Finding
from stripe_otel.report._summary import Summary, summarize

__all__ = ["CHECKS", "findings"]

#: Every check, in the order findings of equal severity are listed.
CHECKS: tuple[Callable[[Summary], Finding | None], ...] = (
    high_rtt,
    new_connections,
    slow_decode,
    sequential_calls,
    retries,
    db_write_dominates,
)
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def findings(source: Summary | Sequence[SpanRecord]) -> list[Finding]:
    """Every finding for a :class:`Summary` (or the spans to summarize), most severe first."""
    summary = source if isinstance(source, Summary) else summarize(source)
    found = [f for check in CHECKS if (f := check(summary)) is not None]
    return sorted(found, key=lambda f: _SEVERITY_ORDER.get(f.severity, len(_SEVERITY_ORDER)))
