"""The summary's numbers are the spans' numbers: checked against the SDK's own spans, not
against what the loader read."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
import stripe
from opentelemetry.sdk.trace import ReadableSpan

import stripe_otel
from stripe_otel import report
from stripe_otel import semconv as sc
from stripe_otel.report._summary import percentile
from tests.conftest import Telemetry
from tests.report.conftest import Record

pytestmark = pytest.mark.integration

PI = {"amount": 2000, "currency": "usd", "payment_method_types": ["card"]}


def _ms(span: ReadableSpan) -> float:
    return (span.end_time - span.start_time) / 1e6  # type: ignore[operator]


def test_percentile_interpolates_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_operations_and_transactions_match_the_spans(
    stripe_globals: Any, instrument: Telemetry, record: Record
) -> None:
    stripe_globals.set_delay(5)
    for i in range(4):
        with stripe_otel.transaction("checkout"):
            intent = stripe.PaymentIntent.create(**PI)
            card = "pm_card_chargeDeclined" if i == 3 else "pm_card_visa"
            with contextlib.suppress(stripe.CardError):  # the declined one: an error span
                stripe.PaymentIntent.confirm(intent.id, payment_method=card)
            with stripe_otel.db_write("save_order"):
                time.sleep(0.002 * (i + 1))
    sdk_spans = instrument.spans()
    summary = report.summarize(report.load(record("checkouts")))

    by_name = {o.name: o for o in summary.operations}
    assert set(by_name) == {
        "POST /v1/payment_intents",
        "POST /v1/payment_intents/{intent}/confirm",
    }
    confirm = by_name["POST /v1/payment_intents/{intent}/confirm"]
    assert (confirm.count, confirm.errors) == (4, 1)
    assert confirm.error_codes == {"card_declined": 1}
    assert confirm.operation == "PaymentIntent.confirm"
    sdk_confirms = [s for s in sdk_spans if s.name == confirm.name]
    durations = [_ms(s) for s in sdk_confirms]
    assert confirm.duration.p50 == pytest.approx(percentile(durations, 50), abs=1e-6)
    assert confirm.duration.p99 == pytest.approx(percentile(durations, 99), abs=1e-6)
    decode = [s.attributes[sc.STRIPE_PHASE_SDK_DECODE_MS] for s in sdk_confirms]  # type: ignore[index]
    assert confirm.phases[sc.PHASE_SDK_DECODE].p95 == pytest.approx(percentile(decode, 95))
    assert set(confirm.phases) == {
        sc.PHASE_NETWORK,
        sc.PHASE_API_PROCESSING,
        sc.PHASE_SDK_DECODE,
        "app",
    }

    [checkout] = summary.transactions
    assert (checkout.name, checkout.count, checkout.errors) == ("checkout", 4, 0)
    db = [s.attributes[sc.STRIPE_PHASE_DB_WRITE_MS] for s in sdk_spans if s.name == "checkout"]  # type: ignore[index]
    assert checkout.phases[sc.PHASE_DB_WRITE].p50 == pytest.approx(percentile(db, 50))

    slowest_sdk = max((s for s in sdk_spans if s.name == "checkout"), key=_ms)
    slow = summary.slowest
    assert slow is not None
    assert slow.trace_id == f"{slowest_sdk.context.trace_id:032x}"  # type: ignore[union-attr]
    assert slow.duration_ms == pytest.approx(_ms(slowest_sdk))
    under = [s for s in sdk_spans if s.context.trace_id == slowest_sdk.context.trace_id]  # type: ignore[union-attr]
    assert len(slow.spans) == len(under) - 1  # every span of its trace but the root


def test_without_transactions_the_slowest_operation_is_the_waterfall(
    stripe_globals: Any, record: Record
) -> None:
    stripe.Customer.create()
    stripe_globals.set_delay(20)
    stripe.Customer.create()
    summary = report.summarize(report.load(record("plain")))
    assert summary.transactions == []
    slow = summary.slowest
    assert slow is not None
    assert slow.name == "POST /v1/customers"
    assert slow.duration_ms >= 20
    assert {s.name for s in slow.spans} >= {sc.SPAN_ATTEMPT, sc.SPAN_SDK_DECODE}
