"""The real stripe SDK, instrumented, exporting to Datadog's real test agent.

The agent decodes every payload as the Datadog Agent would and applies its checks
(trace count header, tracer version header, content length, valid meta.events): a failed
check answers 400, which shows up as ``last_status`` and poisons the session's read-back.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import stripe_otel
from stripe_otel import StripeInstrumentor
from stripe_otel import semconv as sc
from stripe_otel.exporters.datadog import DatadogAgentExporter, DatadogMappingSpanProcessor
from stripe_otel.exporters.datadog._encoding import encode_v05
from stripe_otel.exporters.datadog._mapping import SpanMapper
from stripe_otel.testing import Fault, StripeTestServer
from tests.exporters._datadog_spans import stripe_trace
from tests.exporters.conftest import DATADOG_SNAPSHOT_DIR, DatadogTestAgent

pytestmark = pytest.mark.integration

CREATE = "POST /v1/payment_intents"
CONFIRM = "POST /v1/payment_intents/{intent}/confirm"
TOKEN_HEADER = "X-Datadog-Test-Session-Token"
# Values that differ from run to run; ids, start and duration the agent normalises itself.
VOLATILE = [
    "meta.events",
    "meta.error.stack",
    f"meta.{sc.STRIPE_REQUEST_ID}",
    f"meta.{sc.STRIPE_IDEMPOTENCY_KEY}",
    f"meta.{sc.STRIPE_OBJECT_ID}",
    f"metrics.{sc.SERVER_PORT}",
    f"metrics.{sc.STRIPE_RETRY_BACKOFF_MS}",
    *(
        f"metrics.{name}"
        for name in sorted(sc.ALL_ATTRIBUTES)
        if name.startswith(("stripe.phase.", "stripe.network.")) and name.endswith("_ms")
    ),
]


@dataclass
class Rig:
    provider: TracerProvider
    memory: InMemorySpanExporter
    server: StripeTestServer

    def by_trace(self) -> dict[int, list[ReadableSpan]]:
        grouped: dict[int, list[ReadableSpan]] = {}
        for span in self.memory.get_finished_spans():
            assert span.context is not None
            grouped.setdefault(span.context.trace_id, []).append(span)
        return grouped


@pytest.fixture
def rig(stripe_globals: StripeTestServer) -> Iterator[Rig]:
    """stripe instrumented with a fresh provider; spans also kept in memory to compare."""
    provider = TracerProvider(resource=Resource({"service.name": "checkout-svc"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield Rig(provider, memory, stripe_globals)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def checkout_and_decline(server: StripeTestServer) -> None:
    """Trace 1: a transaction, create + confirm with one 500 retried. Trace 2: a decline."""
    with stripe_otel.transaction("checkout"):
        intent = stripe.PaymentIntent.create(amount=1000, currency="usd")
        server.add_fault(Fault(status=500, count=1))
        intent.confirm(payment_method="pm_card_visa")
    with pytest.raises(stripe.CardError):
        stripe.PaymentIntent.create(
            amount=500, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True
        )


def dd_exporter(agent: DatadogTestAgent, token: str) -> DatadogAgentExporter:
    return DatadogAgentExporter(
        agent_url=agent.url, env="ci", version="1.0", headers={TOKEN_HEADER: token}
    )


def test_whole_traces_with_datadog_names(datadog_test_agent: DatadogTestAgent, rig: Rig) -> None:
    token = datadog_test_agent.new_token("dd-native")
    exporter = dd_exporter(datadog_test_agent, token)
    # Simple processor: one span per export, so whole traces must come from the holding.
    rig.provider.add_span_processor(SimpleSpanProcessor(exporter))
    checkout_and_decline(rig.server)
    assert exporter.last_status == 200 and exporter.held_spans == 0

    paths = [urlsplit(r["url"]).path for r in datadog_test_agent.requests(token)]
    assert paths == ["/v0.5/traces"] * 2, "one request per trace, each trace whole"
    expected = rig.by_trace()
    traces = datadog_test_agent.traces(token)
    assert len(traces) == 2
    for trace in traces:
        [trace_id] = [t for t in expected if t & (2**64 - 1) == trace[0]["trace_id"]]
        assert {s["span_id"] for s in trace} == {s.context.span_id for s in expected[trace_id]}
        [tid] = [s["meta"]["_dd.p.tid"] for s in trace if "_dd.p.tid" in s["meta"]]
        assert tid == f"{trace_id >> 64:016x}"
        assert all(s["service"] == "checkout-svc" and s["meta"]["env"] == "ci" for s in trace)
        [root] = [s for s in trace if s["parent_id"] == 0]
        assert root["metrics"]["_dd.top_level"] == 1 and root["metrics"]["_sampling_priority_v1"]

    checkout, decline = sorted(traces, key=len, reverse=True)
    names = {(s["name"], s["resource"], s["type"]) for s in checkout}
    assert names == {
        (sc.DD_OPNAME_TRANSACTION, "checkout", "custom"),
        (sc.DD_OPNAME_REQUEST, CREATE, "http"),
        (sc.DD_OPNAME_REQUEST, CONFIRM, "http"),
        *((name, res, "custom") for res in (CREATE, CONFIRM) for name in (
            sc.SPAN_ATTEMPT, sc.SPAN_NETWORK, sc.SPAN_API_PROCESSING, sc.SPAN_SDK_DECODE,
        )),
    }  # fmt: skip
    for span in checkout:
        measured = span["name"] in sc.ALL_SPAN_NAMES and span["name"] != sc.DD_OPNAME_REQUEST
        assert (span["metrics"].get(sc.DD_MEASURED) == 1) == measured, span["name"]
    attempts = sorted(
        (s for s in checkout if s["resource"] == CONFIRM and s["name"] == sc.SPAN_ATTEMPT),
        key=lambda s: s["start"],
    )
    assert [(a["error"], a["meta"].get(sc.ERROR_TYPE)) for a in attempts] == [(1, "500"), (0, None)]

    [op] = [s for s in decline if s["name"] == sc.DD_OPNAME_REQUEST]
    assert op["error"] == 1 and op["parent_id"] == 0
    assert op["meta"][sc.ERROR_TYPE] == "stripe.CardError"
    assert op["meta"]["error.message"].startswith("stripe.CardError (http_status=402")
    assert "_api_requestor.py" in op["meta"]["error.stack"]
    assert op["meta"][sc.STRIPE_ERROR_DECLINE_CODE] == "generic_decline"
    assert op["metrics"][sc.HTTP_RESPONSE_STATUS_CODE] == 402
    [event] = json.loads(op["meta"]["events"])
    assert event["name"] == sc.EVENT_EXCEPTION


def test_v04_through_a_batch_processor(datadog_test_agent: DatadogTestAgent, rig: Rig) -> None:
    token = datadog_test_agent.new_token("dd-v04")
    exporter = dd_exporter(datadog_test_agent, token)
    exporter._sender.endpoint = "/v0.4/traces"  # as after a fallback from an old Agent
    rig.provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    checkout_and_decline(rig.server)
    assert rig.provider.force_flush()
    assert exporter.last_status == 200
    [request] = datadog_test_agent.requests(token)
    assert urlsplit(request["url"]).path == "/v0.4/traces"
    assert request["headers"]["X-Datadog-Trace-Count"] == "2"
    assert request["headers"]["Datadog-Meta-Tracer-Version"] == stripe_otel.__version__
    assert base64.b64decode(request["body"])[:1] == b"\x92", "msgpack array of 2 traces"
    traces = datadog_test_agent.traces(token)
    assert sorted(len(t) for t in traces) == sorted(len(t) for t in rig.by_trace().values())


def test_the_agent_checks_are_on(datadog_test_agent: DatadogTestAgent) -> None:
    """Guards the tests above: a wrong trace count must be refused, naming the check."""
    token = datadog_test_agent.new_token("dd-bad-count")  # this session is poisoned
    mapped = SpanMapper().map_chunk(stripe_trace())
    request = urllib.request.Request(
        f"{datadog_test_agent.url}/v0.5/traces",
        data=encode_v05([mapped]),
        method="PUT",
        headers={
            "Content-Type": "application/msgpack",
            "Datadog-Meta-Tracer-Version": "0.1.0",
            "X-Datadog-Trace-Count": "2",
            TOKEN_HEADER: token,
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert "X-Datadog-Trace-Count value (2) does not match" in refused.value.read().decode()


def test_snapshot(datadog_test_agent: DatadogTestAgent, rig: Rig) -> None:
    """Pins every name, resource, type, tag and metric except the volatile ones.

    Regenerate with STRIPE_OTEL_UPDATE_SNAPSHOTS=1 after deleting the file; commit it.
    """
    token = datadog_test_agent.new_token("dd-snapshot")
    datadog_test_agent.start_session(token)
    exporter = dd_exporter(datadog_test_agent, token)
    rig.provider.add_span_processor(SimpleSpanProcessor(exporter))
    checkout_and_decline(rig.server)
    assert exporter.last_status == 200
    status, body = datadog_test_agent.get(
        "/test/session/snapshot",
        test_session_token=token,
        ignores=",".join(VOLATILE),
        removes=",".join(VOLATILE),  # kept out of the committed file, not just ignored
        file=str(DATADOG_SNAPSHOT_DIR / "datadog_checkout_and_decline"),
    )
    assert status == 200, body[-4000:]
    assert (DATADOG_SNAPSHOT_DIR / "datadog_checkout_and_decline.json").exists()


def test_otlp_to_the_agent_with_mapping_processor(
    datadog_test_agent: DatadogTestAgent, stripe_globals: StripeTestServer
) -> None:
    token = datadog_test_agent.new_token("dd-otlp")
    provider = TracerProvider(resource=Resource({"service.name": "checkout-svc"}))
    provider.add_span_processor(DatadogMappingSpanProcessor())
    otlp = OTLPSpanExporter(
        endpoint=f"{datadog_test_agent.otlp_http_url}/v1/traces", headers={TOKEN_HEADER: token}
    )
    provider.add_span_processor(BatchSpanProcessor(otlp, schedule_delay_millis=60_000))
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        checkout_and_decline(stripe_globals)
        assert provider.force_flush()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    spans = [
        span
        for request in datadog_test_agent.otlp_traces(token)
        for resource_spans in request["resource_spans"]
        for scope_spans in resource_spans["scope_spans"]
        for span in scope_spans["spans"]
    ]
    view = {(s["name"], *_dd_attributes(s)) for s in spans}
    assert (CONFIRM, sc.DD_OPNAME_REQUEST, CONFIRM, "http", None) in view
    assert ("checkout", sc.DD_OPNAME_TRANSACTION, "checkout", "custom", None) in view
    assert (sc.SPAN_ATTEMPT, sc.SPAN_ATTEMPT, CONFIRM, "custom", "1") in view
    assert (sc.SPAN_API_PROCESSING, sc.SPAN_API_PROCESSING, CREATE, "custom", "1") in view
    assert (sc.SPAN_SDK_DECODE, sc.SPAN_SDK_DECODE, CONFIRM, "custom", "1") in view
    assert all(name is not None for _, name, *_ in view), "every span of ours is named"


def _dd_attributes(span: dict[str, Any]) -> tuple[str | None, ...]:
    values = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
    keys = (sc.DD_OPERATION_NAME, sc.DD_RESOURCE_NAME, sc.DD_SPAN_TYPE, sc.DD_MEASURED)
    return tuple(None if values.get(k) is None else str(values[k]) for k in keys)
