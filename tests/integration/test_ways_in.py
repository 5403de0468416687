"""The three ways to turn stripe-otel on, and turning it off again exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import stripe
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from stripe_otel import ConfigError, StripeInstrumentor, _attempts, _operation, _timing, semconv
from stripe_otel.testing import Fault
from tests.conftest import TEST_KEY, Telemetry, metric_points

pytestmark = pytest.mark.integration

APPS = Path(__file__).parent / "apps"
BIN = Path(sys.executable).parent


def _run(args: list[str], server: Any, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "STRIPE_TEST_BASE": server.url,
        "PYTHONPATH": str(Path(__file__).parents[2]),
        **env,
    }
    return subprocess.run(
        args, env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def _console_spans(stdout: str) -> list[dict[str, Any]]:
    """Parse the JSON objects the console exporter prints one after another."""
    decoder, spans, index = json.JSONDecoder(), [], 0
    while (start := stdout.find("{", index)) != -1:
        obj, index = decoder.raw_decode(stdout, start)
        spans.append(obj)
    return spans


# The spans of one successful call, in the order they end.
PHASED_CALL = [
    "stripe.network",
    "stripe.api_processing",
    "stripe.network",
    "stripe.attempt",
    "stripe.sdk_decode",
    "POST /v1/customers",
]

OTEL_ENV = {
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_SERVICE_NAME": "plain-app",
}


@pytest.mark.slow
def test_opentelemetry_instrument(server: Any) -> None:
    proc = _run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(APPS / "plain_app.py")],
        server,
        **OTEL_ENV,
    )
    assert proc.returncode == 0, proc.stderr
    stdout = proc.stdout.split("CUSTOMER", 1)[1]
    spans = _console_spans(stdout)
    names = [s["name"] for s in spans]
    # requests' own instrumentation is installed and active too: suppressed under ours.
    assert names.count("POST /v1/customers") == 1, names
    assert names.count("stripe.attempt") == 1, names
    # Exactly one CLIENT span: ours. requests' own would be a second.
    assert [s["name"] for s in spans if s["kind"] == "SpanKind.CLIENT"] == ["POST /v1/customers"]
    assert sorted(names) == sorted(PHASED_CALL), names


@pytest.mark.slow
def test_opentelemetry_instrument_honours_disabled_list(server: Any) -> None:
    proc = _run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(APPS / "plain_app.py")],
        server,
        **OTEL_ENV,
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="stripe",
    )
    assert proc.returncode == 0, proc.stderr
    names = [s["name"] for s in _console_spans(proc.stdout.split("CUSTOMER", 1)[1])]
    assert "POST /v1/customers" not in names
    assert names == ["POST"], names  # only the requests instrumentation's bare span


@pytest.mark.slow
@pytest.mark.parametrize("order", ["before", "after"])
def test_import_auto(order: str, server: Any) -> None:
    proc = _run([sys.executable, str(APPS / "auto_app.py"), order], server)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == PHASED_CALL


@pytest.mark.slow
def test_import_auto_rejects_bad_setting_at_import(server: Any) -> None:
    proc = _run(
        [sys.executable, str(APPS / "auto_app.py"), "before"],
        server,
        STRIPE_OTEL_ATTEMPT_SPANS="maybe",
    )
    assert proc.returncode != 0
    assert "ConfigError" in proc.stderr
    assert "STRIPE_OTEL_ATTEMPT_SPANS" in proc.stderr


def _snapshot() -> dict[tuple[str, str], Any]:
    from stripe._api_requestor import _APIRequestor
    from stripe._http_client import HTTPClient
    from stripe._stripe_client import StripeClient

    out = {}
    for cls in (_APIRequestor, HTTPClient, StripeClient):
        for name, value in vars(cls).items():
            out[(cls.__name__, name)] = value
    return out


def test_uninstrument_restores_every_attribute_exactly(telemetry: Telemetry) -> None:
    before = _snapshot()
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.provider)
    during = _snapshot()
    changed = {key for key in before if during[key] is not before[key]}
    # Six _APIRequestor and two StripeClient call entry points, two StripeClient webhook
    # parsers, the two retry loops and the backoff (where retries are counted).
    assert len(changed) == 13, sorted(changed)
    instrumentor.instrument(tracer_provider=telemetry.provider)  # no-op
    assert _snapshot() == during
    instrumentor.uninstrument()
    after = _snapshot()
    assert all(after[key] is before[key] for key in before)
    assert after.keys() == before.keys()
    instrumentor.uninstrument()  # no-op
    assert _snapshot() == after


def test_no_spans_after_uninstrument(telemetry: Telemetry, stripe_globals: Any) -> None:
    StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
    StripeInstrumentor().uninstrument()
    stripe.Customer.create(description="after")
    assert telemetry.spans() == []


def test_reinstrument_after_uninstrument(telemetry: Telemetry, stripe_globals: Any) -> None:
    for _ in range(2):
        StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
        stripe.Customer.create(description="again")
        StripeInstrumentor().uninstrument()
    assert [s.name for s in telemetry.operations()] == ["POST /v1/customers"] * 2


def test_bad_setting_raises_at_instrument_time() -> None:
    with pytest.raises(ConfigError, match="attempt_spans"):
        StripeInstrumentor().instrument(attempt_spans="sometimes")
    assert not StripeInstrumentor().is_instrumented_by_opentelemetry


def test_disabled_by_env(
    telemetry: Telemetry, stripe_globals: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_OTEL_ENABLED", "false")
    StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
    try:
        stripe.Customer.create(description="off")
    finally:
        StripeInstrumentor().uninstrument()
    assert telemetry.spans() == []


def test_not_recording_computes_no_attribute_and_times_nothing(
    stripe_globals: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def spy(name: str, real: Any) -> Any:
        def inner(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return inner

    monkeypatch.setattr(
        _operation, "operation_name", spy("operation_name", _operation.operation_name)
    )
    monkeypatch.setattr(_operation, "stripe_id", spy("stripe_id", _operation.stripe_id))
    monkeypatch.setattr(_timing, "start", spy("timing.start", _timing.start))
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    StripeInstrumentor().instrument(tracer_provider=provider)
    try:
        customer = stripe.Customer.create(description="unsampled")
    finally:
        StripeInstrumentor().uninstrument()
    assert customer.id.startswith("cus_")
    assert exporter.get_finished_spans() == ()
    assert calls == []


def test_suppressed_instrumentation_makes_no_span(
    instrument: Telemetry, stripe_globals: Any
) -> None:
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        stripe.Customer.create(description="quiet")
    assert instrument.spans() == []


def test_misspelt_setting_is_an_error_not_ignored() -> None:
    with pytest.raises(ConfigError, match="record_idempotency_keys"):
        StripeInstrumentor().instrument(record_idempotency_keys=False)
    assert not StripeInstrumentor().is_instrumented_by_opentelemetry


def test_unsampled_calls_run_the_retry_loop_untouched_and_still_count_retries(
    stripe_globals: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An unsampled call gets no attempt spans, so the loop runs with the SDK's own client
    # (no stand-in to watch attempts); its retry still reaches the retry metric.
    calls: list[str] = []
    real = _attempts.begin_loop
    monkeypatch.setattr(_attempts, "begin_loop", lambda *a: calls.append("x") or real(*a))
    reader = InMemoryMetricReader()
    StripeInstrumentor().instrument(
        tracer_provider=TracerProvider(sampler=ALWAYS_OFF),
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    try:
        stripe_globals.add_fault(Fault(status=500, count=1))
        stripe.Customer.create(description="retried, unsampled")
    finally:
        StripeInstrumentor().uninstrument()
    assert calls == []
    [retries] = metric_points(reader, semconv.METRIC_RETRIES)
    assert retries.value == 1
    [duration] = metric_points(reader, semconv.METRIC_OPERATION_DURATION)
    assert duration.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200


def test_unsampled_retries_are_counted_on_a_client_with_its_own_backoff(
    stripe_globals: Any,
) -> None:
    # An app's client class whose backoff never calls the SDK's: the stand-in counts.
    class OwnBackoff(stripe.RequestsClient):
        def _sleep_time_seconds(self, num_retries: int, response: Any = None) -> float:
            return 0.001

    stripe.default_http_client = OwnBackoff()
    reader = InMemoryMetricReader()
    StripeInstrumentor().instrument(
        tracer_provider=TracerProvider(sampler=ALWAYS_OFF),
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    try:
        stripe_globals.add_fault(Fault(status=500, count=2))
        stripe.Customer.create(description="retried twice, unsampled")
        stripe.StripeClient(TEST_KEY, base_addresses={"api": stripe_globals.url}).raw_request(
            "post", "/v1/customers"
        )
    finally:
        StripeInstrumentor().uninstrument()
    [retries] = metric_points(reader, semconv.METRIC_RETRIES)
    assert retries.value == 2
    # raw_request's result is the response itself: its status is still on the metric.
    durations = metric_points(reader, semconv.METRIC_OPERATION_DURATION)
    assert [p.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] for p in durations] == [200]
    assert durations[0].count == 2
