"""Each finding, from real spans: a workload built to trigger it (the finding is there and
cites the numbers in the spans) and a control that differs only in the cause (it is not).

Spans come from the instrumented SDK talking to the Stripe test server, go through an
OTLP/JSON lines file, and are read back by ``report.load``: the whole pipeline."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stripe

import stripe_otel
from stripe_otel import report
from stripe_otel import semconv as sc
from stripe_otel.report import Finding
from stripe_otel.report._rules import (
    DB_WRITE_SHARE,
    HIGH_RTT_MS,
    NEW_CONNECTIONS_SHARE,
    RETRY_SHARE,
    SLOW_DECODE_MIN_MS,
)
from stripe_otel.testing import Fault, LatencyProxy, StripeTestServer
from tests.conftest import TEST_KEY, Telemetry
from tests.report.conftest import Record

pytestmark = pytest.mark.integration

PI = {"amount": 2000, "currency": "usd", "payment_method_types": ["card"]}


def finding(path: Path, code: str) -> Finding | None:
    found = [f for f in report.findings(report.load(path)) if f.code == code]
    assert len(found) <= 1
    return found[0] if found else None


def values(path: Path, key: str, where: Callable[[report.SpanRecord], bool]) -> list[float]:
    return [v for s in report.load(path) if where(s) and (v := s.number(key)) is not None]


def client_for(url: str, http_client: stripe.HTTPClient) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_KEY, base_addresses={"api": url}, http_client=http_client)


# --- high_rtt ---------------------------------------------------------------------------
def _calls_through_proxy(server: StripeTestServer, one_way_ms: float, calls: int = 6) -> None:
    # Over TLS, the handshake crosses the proxy and carries the round trip (a local proxy
    # cannot delay the TCP handshake, which the kernel answers).
    with LatencyProxy("127.0.0.1", server.port, one_way_delay_ms=one_way_ms) as proxy:
        http = stripe.RequestsClient()
        client = client_for(f"https://localhost:{proxy.port}", http)
        for _ in range(calls):
            client.v1.customers.create()
        http.close()


def _is_processing(span: report.SpanRecord) -> bool:
    return span.name == sc.SPAN_API_PROCESSING


def test_high_rtt_when_stripe_is_far(tls_server: StripeTestServer, record: Record) -> None:
    _calls_through_proxy(tls_server, one_way_ms=45)
    path = record("far")
    found = finding(path, "high_rtt")
    assert found is not None
    rtts = values(path, sc.STRIPE_NETWORK_RTT_MS, _is_processing)
    assert found.evidence["calls"] == len(rtts) == 6
    assert found.evidence["median_rtt_ms"] == round(statistics.median(rtts), 1)
    assert HIGH_RTT_MS < found.evidence["median_rtt_ms"] < 200  # ~90 ms injected
    assert f"{found.evidence['median_rtt_ms']:.1f} ms over 6 calls" in found.detail
    assert "us-east" in found.detail


def test_no_high_rtt_when_stripe_is_near(tls_server: StripeTestServer, record: Record) -> None:
    _calls_through_proxy(tls_server, one_way_ms=0)
    path = record("near")
    rtts = values(path, sc.STRIPE_NETWORK_RTT_MS, _is_processing)
    assert len(rtts) == 6  # enough samples: absent because of the value, not the count
    assert statistics.median(rtts) < HIGH_RTT_MS
    assert finding(path, "high_rtt") is None


# --- new_connections ----------------------------------------------------------------------
def _customers(server: StripeTestServer, calls: int, shared: bool) -> None:
    shared_http = stripe.RequestsClient()
    for _ in range(calls):
        http = shared_http if shared else stripe.RequestsClient()
        client_for(server.url, http).v1.customers.create()
        if not shared:
            http.close()
    shared_http.close()


def _is_request_leg(span: report.SpanRecord) -> bool:
    return span.text(sc.STRIPE_NETWORK_LEG) == "request"


def test_new_connections_with_a_client_per_call(
    tls_server: StripeTestServer, record: Record
) -> None:
    _customers(tls_server, 20, shared=False)
    path = record("fresh")
    found = finding(path, "new_connections")
    assert found is not None
    assert found.evidence["new_connections"] == found.evidence["attempts"] == 20
    assert found.evidence["share"] == 1.0
    tls = values(path, sc.STRIPE_NETWORK_TLS_MS, _is_request_leg)
    assert len(tls) == 20
    assert found.evidence["median_tls_ms"] == round(statistics.median(tls), 1)
    assert "20 of 20 attempts (100%)" in found.detail
    assert f"median TLS handshake {found.evidence['median_tls_ms']:.1f} ms" in found.detail
    assert "Reuse one client" in found.detail


def test_no_new_connections_finding_with_one_client(
    tls_server: StripeTestServer, record: Record
) -> None:
    _customers(tls_server, 20, shared=True)
    path = record("shared")
    reused = [s.flag(sc.STRIPE_CONNECTION_REUSED) for s in report.load(path) if _is_request_leg(s)]
    assert len(reused) == 20
    assert reused.count(False) / len(reused) <= NEW_CONNECTIONS_SHARE
    assert finding(path, "new_connections") is None


# --- slow_decode ------------------------------------------------------------------------
def _list_customers(limit: int) -> None:
    for i in range(100):
        stripe.Customer.create(
            description="d" * 200, metadata={f"k{j}": f"v{i}" for j in range(20)}
        )
    for _ in range(3):
        stripe.Customer.list(limit=limit)


def _is_list(span: report.SpanRecord) -> bool:
    return span.name == "GET /v1/customers"


def test_slow_decode_for_big_pages(stripe_globals: Any, record: Record) -> None:
    _list_customers(limit=100)
    path = record("big_pages")
    found = finding(path, "slow_decode")
    assert found is not None
    [cited] = found.evidence["operations"]  # the small creates are not blamed
    assert cited["operation"] == "GET /v1/customers"
    assert cited["calls"] == 3
    decode = values(path, sc.STRIPE_PHASE_SDK_DECODE_MS, _is_list)
    assert cited["p50_decode_ms"] == round(statistics.median(decode), 1)
    assert cited["p50_decode_ms"] >= SLOW_DECODE_MIN_MS
    assert f"p95 decode {cited['p95_decode_ms']:.1f} ms" in found.detail
    assert "expand" in found.detail


def test_no_slow_decode_for_small_pages(stripe_globals: Any, record: Record) -> None:
    _list_customers(limit=3)
    path = record("small_pages")
    assert statistics.median(values(path, sc.STRIPE_PHASE_SDK_DECODE_MS, _is_list)) < 5
    assert finding(path, "slow_decode") is None


# --- sequential_calls -------------------------------------------------------------------
def test_sequential_create_then_confirm(stripe_globals: Any, record: Record) -> None:
    for _ in range(3):
        with stripe_otel.transaction("checkout"):
            intent = stripe.PaymentIntent.create(**PI)
            stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_visa")
    path = record("two_calls")
    found = finding(path, "sequential_calls")
    assert found is not None
    assert found.evidence["pairs"] == 3
    assert found.evidence["transactions"] == {"checkout": 3}
    confirm_network = values(
        path, sc.STRIPE_PHASE_NETWORK_MS, lambda s: s.name.endswith("/{intent}/confirm")
    )
    assert found.evidence["saved_ms_total"] == round(sum(confirm_network), 1)
    assert found.evidence["saved_ms_median"] == round(statistics.median(confirm_network), 1)
    assert "confirm=true" in found.detail
    assert f"{found.evidence['saved_ms_total']:.1f} ms in all" in found.detail


def test_no_sequential_calls_with_confirm_true(stripe_globals: Any, record: Record) -> None:
    for _ in range(3):
        with stripe_otel.transaction("checkout"):
            stripe.PaymentIntent.create(**PI, confirm=True, payment_method="pm_card_visa")
    assert finding(record("one_call"), "sequential_calls") is None


# --- retries ----------------------------------------------------------------------------
def _creates(server: StripeTestServer, faulty: set[int], fault: Fault | None) -> None:
    for i in range(10):
        if i in faulty and fault is not None:
            server.add_fault(fault)  # consumed by this call's first attempt only
        stripe.Customer.create()


RATE_LIMIT = Fault(status=429, should_retry=True, error_type="rate_limit_error")


def test_retries_and_rate_limits(
    stripe_globals: Any, instrument: Telemetry, record: Record
) -> None:
    _creates(stripe_globals, {0, 4, 8}, RATE_LIMIT)
    retried = [op for op in instrument.operations() if len(instrument.attempts(op)) > 1]
    lost = sum(
        (instrument.attempts(op)[-1].start_time - instrument.attempts(op)[0].start_time) / 1e6  # type: ignore[operator]
        for op in retried
    )
    found = finding(record("limited"), "retries")
    assert found is not None
    assert found.severity == "high"
    assert found.evidence["retried_operations"] == len(retried) == 3
    assert found.evidence["operations"] == 10
    assert found.evidence["rate_limited_attempts"] == 3
    assert found.evidence["rate_limited_reasons"] == {"global-rate": 3}
    assert found.evidence["retry_time_ms"] == pytest.approx(lost, abs=0.1)
    assert "3 of 10 operations (30%)" in found.detail
    assert "global-rate x3" in found.detail


def test_retries_after_server_errors(stripe_globals: Any, record: Record) -> None:
    _creates(stripe_globals, {5}, Fault(status=500))
    found = finding(record("flaky"), "retries")
    assert found is not None
    assert found.evidence["rate_limited_attempts"] == 0
    assert found.evidence["retried_after"] == {"500": 1}
    assert "rate limited" not in found.detail


def test_one_retry_in_many_calls_is_noise(stripe_globals: Any, record: Record) -> None:
    stripe_globals.add_fault(Fault(status=500))
    for _ in range(120):  # 1 retried call in 120: under RETRY_SHARE
        stripe.Customer.create()
    path = record("rare")
    assert sum(s.number(sc.STRIPE_NUM_RETRIES) or 0 for s in report.load(path)) == 1
    assert RETRY_SHARE > 1 / 120
    assert finding(path, "retries") is None


def test_no_retries_finding_without_faults(stripe_globals: Any, record: Record) -> None:
    _creates(stripe_globals, set(), None)
    assert finding(record("clean"), "retries") is None


# --- db_write_dominates -----------------------------------------------------------------
def _checkouts(server: StripeTestServer, stripe_ms: float, db_ms: float) -> None:
    server.set_delay(stripe_ms)
    for _ in range(3):
        with stripe_otel.transaction("checkout"):
            stripe.Customer.create()
            with stripe_otel.db_write("save_order"):
                time.sleep(db_ms / 1000)


def _shares(path: Path) -> list[float]:
    return [
        s.number(sc.STRIPE_PHASE_DB_WRITE_MS) / s.duration_ms  # type: ignore[operator]
        for s in report.load(path)
        if s.name == "checkout"
    ]


def test_db_write_dominates(stripe_globals: Any, record: Record) -> None:
    _checkouts(stripe_globals, stripe_ms=0, db_ms=40)
    path = record("slow_db")
    found = finding(path, "db_write_dominates")
    assert found is not None
    [cited] = found.evidence["transactions"]
    assert cited["transaction"] == "checkout"
    assert cited["count"] == 3
    assert cited["median_share"] == round(statistics.median(_shares(path)), 2)
    assert cited["median_share"] > DB_WRITE_SHARE
    assert 40 <= cited["p50_db_write_ms"] < 80
    assert f"{cited['median_share']:.0%} of the transaction" in found.detail


def test_no_db_write_finding_when_stripe_dominates(stripe_globals: Any, record: Record) -> None:
    _checkouts(stripe_globals, stripe_ms=30, db_ms=2)
    path = record("slow_stripe")
    assert statistics.median(_shares(path)) < DB_WRITE_SHARE
    assert finding(path, "db_write_dominates") is None
