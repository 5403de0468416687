"""A checkout, end to end: create + confirm a PaymentIntent and INSERT the order into SQLite
(through the OpenTelemetry sqlite3 instrumentation) inside stripe_otel.transaction().
The phase spans must tile each attempt, and the transaction's totals must match its children."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.trace import ReadableSpan

import stripe_otel
from stripe_otel import semconv as sc
from stripe_otel.testing import Fault
from tests.conftest import Telemetry, metric_points
from tests.integration._stripe_calls import PI_PARAMS, SYNC_TRANSPORTS, use_global_transport

pytestmark = pytest.mark.integration


def _ms(span: ReadableSpan) -> float:
    return (span.end_time - span.start_time) / 1e6  # type: ignore[operator]


def assert_tiles(parent: ReadableSpan, parts: list[ReadableSpan]) -> None:
    """*parts* cover *parent* end to end: no gap, no overlap, durations adding up."""
    parts = sorted(parts, key=lambda s: s.start_time or 0)
    assert parts[0].start_time == parent.start_time
    assert parts[-1].end_time == parent.end_time
    for before, after in itertools.pairwise(parts):
        assert before.end_time == after.start_time
    total = sum(_ms(p) for p in parts)
    assert abs(total - _ms(parent)) <= max(0.01 * _ms(parent), 0.05)


@pytest.fixture
def orders_db(instrument: Telemetry, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    SQLite3Instrumentor().instrument(tracer_provider=instrument.provider)
    connection = sqlite3.connect(tmp_path / "orders.db")
    connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, intent TEXT, amount INT)")
    instrument.exporter.clear()
    yield connection
    connection.close()
    SQLite3Instrumentor().uninstrument()


@pytest.mark.parametrize("transport", SYNC_TRANSPORTS)
def test_phase_spans_tile_every_attempt(
    transport: str, instrument: Telemetry, stripe_globals: Any
) -> None:
    use_global_transport(transport)
    stripe_globals.set_delay(20)
    stripe_globals.add_fault(Fault(status=500, count=1))  # two attempts
    stripe.Customer.create(description="tiled")
    [op] = instrument.operations()
    attempts = instrument.attempts(op)
    assert len(attempts) == 2
    for attempt in attempts:
        phases = [
            s for s in instrument.children(attempt) if sc.STRIPE_PHASE in (s.attributes or {})
        ]
        assert [s.name for s in phases] == [
            "stripe.network",
            "stripe.api_processing",
            "stripe.network",
        ]
        assert_tiles(attempt, phases)
        processing = phases[1]
        assert processing.attributes[sc.STRIPE_PHASE_ESTIMATED] is True
        assert processing.attributes[sc.STRIPE_PHASE_METHOD] == "headers_wait_minus_rtt"
        assert _ms(processing) == pytest.approx(20, abs=5)
    first_leg, second_leg = (
        next(s for s in instrument.children(a) if s.name == "stripe.network") for a in attempts
    )
    assert first_leg.attributes[sc.STRIPE_CONNECTION_REUSED] is False
    assert sc.STRIPE_NETWORK_CONNECT_MS in first_leg.attributes
    # The SDK's connection survives a 500, so the retry reuses it: no connect, no DNS.
    assert second_leg.attributes[sc.STRIPE_CONNECTION_REUSED] is (transport != "urllib")
    [decode] = instrument.children(op, sc.SPAN_SDK_DECODE)
    assert decode.end_time == op.end_time
    assert decode.start_time >= attempts[-1].end_time  # type: ignore[operator]
    totals = sum(
        op.attributes[k]
        for k in (
            sc.STRIPE_PHASE_NETWORK_MS,
            sc.STRIPE_PHASE_API_PROCESSING_MS,
            sc.STRIPE_PHASE_SDK_DECODE_MS,
            sc.STRIPE_PHASE_APP_MS,
        )
    )
    assert totals == pytest.approx(_ms(op), abs=0.01)


def test_checkout_transaction_totals_match_children(
    instrument: Telemetry, stripe_globals: Any, orders_db: sqlite3.Connection
) -> None:
    stripe_globals.set_delay(15)
    with stripe_otel.transaction("checkout"):
        intent = stripe.PaymentIntent.create(**PI_PARAMS)
        intent = stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_visa")
        # The sqlite3 instrumentation traces cursors, not the Connection.execute shortcut.
        cursor = orders_db.cursor()
        cursor.execute("INSERT INTO orders (intent, amount) VALUES (?, ?)", (intent.id, 2000))
        orders_db.commit()
        cursor.execute("SELECT count(*) FROM orders").fetchone()

    [tx] = [s for s in instrument.spans() if s.name == "checkout"]
    ops = instrument.operations()
    assert [op.parent.span_id for op in ops] == [tx.context.span_id] * 2  # type: ignore[union-attr]
    writes = [
        s for s in instrument.spans() if (s.attributes or {}).get(sc.STRIPE_PHASE) == "db_write"
    ]
    assert [w.name.split()[0] for w in writes] == ["INSERT"]  # the SELECT is not a write
    attrs = tx.attributes or {}
    assert attrs[sc.STRIPE_TRANSACTION] == "checkout"
    assert attrs[sc.STRIPE_TRANSACTION_OPERATIONS] == 2
    for total in (
        sc.STRIPE_PHASE_NETWORK_MS,
        sc.STRIPE_PHASE_API_PROCESSING_MS,
        sc.STRIPE_PHASE_SDK_DECODE_MS,
    ):
        assert attrs[total] == pytest.approx(sum(op.attributes[total] for op in ops), abs=0.001)
    assert attrs[sc.STRIPE_PHASE_DB_WRITE_MS] == pytest.approx(
        sum(_ms(w) for w in writes), abs=0.001
    )
    assert attrs[sc.STRIPE_PHASE_API_PROCESSING_MS] == pytest.approx(30, abs=6)  # 2 x 15 ms
    accounted = sum(
        attrs[k]
        for k in (
            sc.STRIPE_PHASE_NETWORK_MS,
            sc.STRIPE_PHASE_API_PROCESSING_MS,
            sc.STRIPE_PHASE_SDK_DECODE_MS,
            sc.STRIPE_PHASE_DB_WRITE_MS,
            sc.STRIPE_PHASE_APP_MS,
        )
    )
    assert accounted == pytest.approx(_ms(tx), abs=0.01)


def _points(telemetry: Telemetry, name: str) -> list[Any]:
    return metric_points(telemetry.metrics, name)


def test_metrics(instrument: Telemetry, stripe_globals: Any) -> None:
    instrument.metrics.collect()  # drop what earlier tests left (delta-free reader: reset by name)
    stripe_globals.add_fault(Fault(status=500, count=1, path_regex="^/v1/customers$"))
    stripe.Customer.create(description="retried")
    intent = stripe.PaymentIntent.create(**PI_PARAMS)
    with pytest.raises(stripe.CardError):
        intent.confirm(payment_method="pm_card_chargeDeclined")

    durations = {
        (p.attributes[sc.URL_TEMPLATE], p.attributes.get(sc.ERROR_TYPE)): p.count
        for p in _points(instrument, sc.METRIC_OPERATION_DURATION)
    }
    assert durations[("/v1/customers", None)] >= 1
    assert durations[("/v1/payment_intents/{intent}/confirm", "stripe.CardError")] >= 1
    phases = {p.attributes[sc.STRIPE_PHASE] for p in _points(instrument, sc.METRIC_PHASE_DURATION)}
    assert phases == {"network", "api_processing", "sdk_decode"}
    retries = [
        p
        for p in _points(instrument, sc.METRIC_RETRIES)
        if p.attributes[sc.URL_TEMPLATE] == "/v1/customers"
    ]
    assert sum(p.value for p in retries) >= 1
    errors = [
        p
        for p in _points(instrument, sc.METRIC_ERRORS)
        if p.attributes[sc.STRIPE_ERROR_CODE] == "card_declined"
    ]
    assert sum(p.value for p in errors) >= 1
    for point in _points(instrument, sc.METRIC_OPERATION_DURATION):
        assert set(point.attributes) <= sc.ALL_ATTRIBUTES
        assert not any(str(v).startswith(("pi_", "cus_")) for v in point.attributes.values())
