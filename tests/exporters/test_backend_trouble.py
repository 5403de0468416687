"""Backend trouble never reaches the payment path: while the telemetry backend is down,
slow or answering garbage, every Stripe call returns as usual, and what was buffered is
delivered once the backend is back. (Latency under outage is measured by benchmarks, not
asserted here.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from stripe_otel import StripeInstrumentor
from stripe_otel.exporters.honeycomb import honeycomb_exporter
from stripe_otel.testing import OtlpReceiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def pipeline(stripe_globals: Any) -> Iterator[tuple[OtlpReceiver, TracerProvider]]:
    with OtlpReceiver() as rx:
        provider = TracerProvider()
        exporter = honeycomb_exporter(
            endpoint=rx.http_endpoint, protocol="http/protobuf", timeout=1
        )
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
        StripeInstrumentor().instrument(tracer_provider=provider, phases=False)
        try:
            yield rx, provider
        finally:
            StripeInstrumentor().uninstrument()
            provider.shutdown()


def _calls(n: int) -> list[str]:
    return [stripe.Customer.create(description=f"during trouble {i}").id for i in range(n)]


def _operations(rx: OtlpReceiver) -> Counter[str]:
    return Counter(s["name"] for s in rx.spans if s["name"].startswith("POST "))


def test_backend_down_then_back(pipeline: tuple[OtlpReceiver, TracerProvider]) -> None:
    rx, provider = pipeline
    rx.down()
    ids = _calls(10)
    assert len(set(ids)) == 10  # every payment call went through
    provider.force_flush(3_000)  # attempts while down: kept in the backlog
    rx.up()
    _calls(1)  # the next export drains the backlog first
    assert provider.force_flush(5_000)
    assert _operations(rx)["POST /v1/customers"] == 11  # each exactly once


def test_backend_slower_than_the_export_timeout(
    pipeline: tuple[OtlpReceiver, TracerProvider],
) -> None:
    rx, _provider = pipeline
    rx.fail_next(200, count=1, delay_s=3.0)  # answers after the exporter gave up
    ids = _calls(5)
    assert len(set(ids)) == 5
    # No new spans after the calls: the backlog's retry timer delivers them.
    rx.wait_for_spans(5, timeout=10)
    assert _operations(rx)["POST /v1/customers"] >= 5  # at least once (one reply was lost)


def test_backend_answering_garbage(pipeline: tuple[OtlpReceiver, TracerProvider]) -> None:
    rx, provider = pipeline
    rx.garbage_next(count=3)
    ids = _calls(5)
    assert len(set(ids)) == 5
    assert provider.force_flush(5_000)
    assert _operations(rx)["POST /v1/customers"] == 5
