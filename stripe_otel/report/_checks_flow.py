"""Checks on how calls are strung together: sequences that could be one call, retries,
and the database's share of a transaction."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from stripe_otel import semconv as sc
from stripe_otel.report._load import SpanRecord
from stripe_otel.report._rules import (
    DB_WRITE_MIN_TRANSACTIONS,
    DB_WRITE_SHARE,
    RETRY_SHARE,
    Finding,
    count,
    fraction,
    median,
    ms,
)
from stripe_otel.report._summary import Summary

__all__ = ["db_write_dominates", "retries", "sequential_calls"]

#: (create template, confirm template, object): calls Stripe lets you fold into one with
#: ``confirm=true`` on the create.
_CONFIRM_PAIRS = (
    ("/v1/payment_intents", "/v1/payment_intents/{intent}/confirm", "PaymentIntent"),
    ("/v1/setup_intents", "/v1/setup_intents/{intent}/confirm", "SetupIntent"),
)
_RATE_LIMITED = 429


def _group_key(summary: Summary, span: SpanRecord) -> tuple[str, str]:
    """The innermost transaction around *span*, else its trace: where calls are in sequence."""
    parent = summary.parent(span)
    while parent is not None:
        name = parent.text(sc.STRIPE_TRANSACTION)
        if name is not None:
            return name, parent.span_id
        parent = summary.parent(parent)
    return "", span.trace_id


def sequential_calls(summary: Summary) -> Finding | None:
    groups: defaultdict[tuple[str, str], list[SpanRecord]] = defaultdict(list)
    for span in summary.operation_spans():
        groups[_group_key(summary, span)].append(span)
    pairs: list[tuple[str, SpanRecord]] = []  # (object kind, the confirm call)
    affected: Counter[str] = Counter()
    for (tx_name, _), ops in groups.items():
        found = [(kind, op) for op in ops if (kind := _created_before(op, ops)) is not None]
        pairs += found
        if found:
            affected[tx_name or "(no transaction)"] += 1
    if not pairs:
        return None
    saved = [s.number(sc.STRIPE_PHASE_NETWORK_MS) or 0.0 for _, s in pairs]
    kinds = sorted({kind for kind, _ in pairs})
    where = ", ".join(f"{name}: {n}" for name, n in affected.most_common())
    return Finding(
        "sequential_calls",
        "Create then confirm: two calls where one would do",
        f"{'/'.join(kinds)} created, then confirmed in a second call on the same object: "
        f"{count(len(pairs), 'time')}, in {sum(affected.values())} of {len(groups)} "
        f"transactions or traces ({where}). Create with confirm=true: saves one round trip, about "
        f"{statistics.median(saved):.1f} ms per call (the confirm's median network time), "
        f"{sum(saved):.1f} ms in all.",
        "medium",
        {
            "pairs": len(pairs),
            "transactions": dict(affected),
            "groups_total": len(groups),
            "saved_ms_median": ms(statistics.median(saved)),
            "saved_ms_total": ms(sum(saved)),
        },
    )


def _created_before(confirm: SpanRecord, ops: list[SpanRecord]) -> str | None:
    """The object kind if *confirm* confirms an object an earlier call in *ops* created."""
    if confirm.text(sc.HTTP_REQUEST_METHOD) != "POST":
        return None
    object_id = confirm.text(sc.STRIPE_OBJECT_ID)
    template = confirm.text(sc.URL_TEMPLATE)
    for create_template, confirm_template, kind in _CONFIRM_PAIRS:
        if object_id is None or template != confirm_template:
            continue
        for op in ops:
            if (
                op.text(sc.URL_TEMPLATE) == create_template
                and op.text(sc.HTTP_REQUEST_METHOD) == "POST"
                and op.text(sc.STRIPE_OBJECT_ID) == object_id
                and op.end_ns <= confirm.start_ns
            ):
                return kind
    return None


def retries(summary: Summary) -> Finding | None:
    ops = summary.operation_spans()
    attempts = {(op.trace_id, op.span_id): _attempts(summary, op) for op in ops}
    # attempts - 1 from the spans, or stripe.num_retries where attempt spans are turned off.
    extras = {
        (op.trace_id, op.span_id): max(
            int(op.number(sc.STRIPE_NUM_RETRIES) or 0), len(attempts[(op.trace_id, op.span_id)]) - 1
        )
        for op in ops
    }
    retried = [key for key, n in extras.items() if n > 0]
    all_attempts = [a for found in attempts.values() for a in found]
    limited = [a for a in all_attempts if a.number(sc.HTTP_RESPONSE_STATUS_CODE) == _RATE_LIMITED]
    if not (limited or (retried and len(retried) / len(ops) >= RETRY_SHARE)):
        return None
    reasons = Counter(a.text(sc.STRIPE_RATE_LIMITED_REASON) or "unknown" for a in limited)
    failed = Counter(
        str(a.attributes.get(sc.HTTP_RESPONSE_STATUS_CODE) or a.text(sc.ERROR_TYPE) or "error")
        for a in all_attempts
        if a.flag(sc.STRIPE_RETRY_WILL_RETRY)
    )
    # Time lost: from the first attempt's start to the last's, i.e. failed tries + backoff.
    lost_ms = sum(
        (found[-1].start_ns - found[0].start_ns) / 1e6
        for key in retried
        if len(found := attempts[key]) > 1
    )
    extra = sum(extras.values())
    text = (
        f"{len(retried)} of {len(ops)} operations ({len(retried) / len(ops):.0%}) were retried: "
        f"{count(extra, 'extra attempt')}, {lost_ms:.1f} ms spent in failed attempts and backoff."
    )
    if failed:
        text += " Retried after: " + ", ".join(f"{k} x{n}" for k, n in failed.most_common()) + "."
    if limited:
        text += (
            f" {count(len(limited), 'attempt')} rate limited (HTTP 429: "
            + ", ".join(f"{k} x{n}" for k, n in reasons.most_common())
            + "). Spread the load (queue, lower concurrency, webhooks instead of polling) "
            "or ask Stripe for a higher limit."
        )
    else:
        text += " Transient failures: check your network path and status.stripe.com."
    return Finding(
        "retries",
        "Retries and rate limits",
        text,
        "high" if limited or len(retried) / len(ops) >= 10 * RETRY_SHARE else "medium",
        {
            "operations": len(ops),
            "retried_operations": len(retried),
            "extra_attempts": extra,
            "rate_limited_attempts": len(limited),
            "rate_limited_reasons": dict(reasons),
            "retried_after": dict(failed),
            "retry_time_ms": ms(lost_ms),
        },
    )


def _attempts(summary: Summary, op: SpanRecord) -> list[SpanRecord]:
    return [c for c in summary.children(op) if c.number(sc.STRIPE_ATTEMPT) is not None]


def db_write_dominates(summary: Summary) -> Finding | None:
    heavy = []
    for tx in summary.transactions:
        spans = [s for s in summary.transaction_spans() if s.text(sc.STRIPE_TRANSACTION) == tx.name]
        shares = [
            db / s.duration_ms
            for s in spans
            if (db := s.number(sc.STRIPE_PHASE_DB_WRITE_MS)) is not None and s.duration_ms > 0
        ]
        mid = median(shares)
        db_stats = tx.phases.get(sc.PHASE_DB_WRITE)
        if (
            mid is not None
            and db_stats is not None
            and len(shares) >= DB_WRITE_MIN_TRANSACTIONS
            and mid > DB_WRITE_SHARE
        ):
            heavy.append((tx.name, len(shares), fraction(mid), db_stats.p50, tx.duration.p50))
    if not heavy:
        return None
    cited = "; ".join(
        f"{name}: DB writes are {share:.0%} of the transaction on median "
        f"(p50 {db:.1f} ms of {total:.1f} ms, {n} transactions)"
        for name, n, share, db, total in heavy
    )
    return Finding(
        "db_write_dominates",
        "Database writes dominate the transaction",
        f"{cited} (threshold {DB_WRITE_SHARE:.0%}). Look at the database before Stripe: "
        "batch the writes and commit once, move what can wait after the response "
        "(a queue), check indexes and lock waits.",
        "medium",
        {
            "transactions": [
                {
                    "transaction": name,
                    "count": n,
                    "median_share": share,
                    "p50_db_write_ms": ms(db),
                    "p50_duration_ms": ms(total),
                }
                for name, n, share, db, total in heavy
            ]
        },
    )
