"""configure(vendor): one call from nothing to spans at the vendor's stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from opentelemetry.sdk.trace import TracerProvider

from stripe_otel import StripeInstrumentor
from stripe_otel.config import ConfigError
from stripe_otel.exporters.configure import configure
from stripe_otel.exporters.datadog import DatadogMappingSpanProcessor
from stripe_otel.testing import OtlpReceiver
from tests.exporters.conftest import DatadogTestAgent

pytestmark = pytest.mark.integration


@pytest.fixture
def instrumented_with() -> Iterator[Any]:
    providers: list[TracerProvider] = []

    def instrument(provider: TracerProvider) -> None:
        providers.append(provider)
        StripeInstrumentor().instrument(tracer_provider=provider)

    yield instrument
    StripeInstrumentor().uninstrument()
    for provider in providers:
        provider.shutdown()


def test_honeycomb(stripe_globals: Any, instrumented_with: Any) -> None:
    with OtlpReceiver() as rx:
        provider, meters = configure(
            "honeycomb",
            service="checkout",
            set_global=False,
            endpoint=rx.http_endpoint,
            protocol="http/protobuf",
            api_key="Zx9QvTqL2mTestEnvKey01",
        )
        instrumented_with(provider)
        stripe.Customer.create(description="configured")
        assert provider.force_flush(5_000)
        spans = rx.wait_for_spans(6)
    assert {s["resource"]["service.name"] for s in spans} == {"checkout"}
    assert "POST /v1/customers" in {s["name"] for s in spans}
    assert meters is not None  # Honeycomb takes OTLP metrics too


def test_datadog_native(
    stripe_globals: Any, instrumented_with: Any, datadog_test_agent: DatadogTestAgent
) -> None:
    token = datadog_test_agent.new_token("configure")
    datadog_test_agent.start_session(token)
    provider, meters = configure(
        "datadog",
        service="checkout",
        set_global=False,
        agent_url=datadog_test_agent.url,
        headers={"X-Datadog-Test-Session-Token": token},
    )
    instrumented_with(provider)
    stripe.Customer.create(description="configured")
    assert provider.force_flush(5_000)
    [trace] = datadog_test_agent.traces(token)
    root = next(s for s in trace if s["parent_id"] in (0, None))
    assert (root["name"], root["resource"], root["service"]) == (
        "stripe.request",
        "POST /v1/customers",
        "checkout",
    )
    assert meters is None  # the Agent's trace API takes no metrics


def test_datadog_otlp_adds_the_mapping_processor(instrumented_with: Any) -> None:
    provider, _ = configure("datadog_otlp", set_global=False, endpoint="http://127.0.0.1:9")
    processors = provider._active_span_processor._span_processors
    assert any(isinstance(p, DatadogMappingSpanProcessor) for p in processors)
    provider.shutdown()


def test_unknown_vendor() -> None:
    with pytest.raises(ConfigError, match="newrelic"):
        configure("newrelic", set_global=False)  # type: ignore[arg-type]


def test_honeycomb_classic_key_without_metrics_dataset_still_exports_traces(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Classic keys need a dataset per signal; HONEYCOMB_DATASET covers traces only.
    monkeypatch.setenv("HONEYCOMB_DATASET", "payments")
    provider, meters = configure(
        "honeycomb",
        set_global=False,
        api_key="0123456789abcdef0123456789abcdef",
        endpoint="http://127.0.0.1:9",
    )
    assert meters is None
    assert "metrics not exported" in caplog.text
    provider.shutdown()
