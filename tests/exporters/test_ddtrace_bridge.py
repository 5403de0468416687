"""An app on ddtrace's OpenTelemetry bridge (``DD_TRACE_OTEL_ENABLED=true`` + ``ddtrace.auto``)
instead of the OTel SDK: ddtrace turns our spans into its own and sends them to the Agent
(here Datadog's test agent). They must come out as through the OTel SDK and our Datadog
exporters: same operation and resource names, same spans, measured phases (see the
"Datadog naming" section of docs/semantic-conventions.md).

The app runs once, in a subprocess, for the whole module; each test checks one property
of what the agent received.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe

from stripe_otel import StripeInstrumentor
from stripe_otel import semconv as sc
from stripe_otel.testing import Fault, StripeTestServer
from tests.conftest import Telemetry
from tests.exporters.conftest import DatadogTestAgent

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
APP = Path(__file__).parent / "apps" / "ddtrace_app.py"
TOKEN_HEADER = "X-Datadog-Test-Session-Token"
SERVICE = "checkout"
CUSTOMERS = "POST /v1/customers"
INTENTS = "POST /v1/payment_intents"
PHASES = (sc.SPAN_NETWORK, sc.SPAN_API_PROCESSING, sc.SPAN_SDK_DECODE)
# Trace-context headers ddtrace (or OTel) would propagate: none may reach Stripe.
PROPAGATION_HEADERS = ("traceparent", "tracestate", "x-datadog-trace-id", "x-datadog-parent-id")

DdSpan = dict[str, Any]
# (Datadog name, resource, parent's Datadog name, measured, error): how a span looks.
Shape = tuple[str, str, str | None, int | None, int]


@dataclass
class BridgeRun:
    stdout: str
    traces: list[list[DdSpan]]
    agent_paths: list[str]
    stripe_requests: list[tuple[str, str, dict[str, str]]]  # method, path, headers

    def trace_of(self, resource: str) -> list[DdSpan]:
        """The trace whose root has this resource."""
        roots = {s["resource"]: t for t in self.traces for s in t if s["parent_id"] == 0}
        return roots[resource]

    def line(self, label: str) -> str:
        [value] = [ln.split(" ", 1)[1] for ln in self.stdout.splitlines() if ln.startswith(label)]
        return value


def _app_env(agent: DatadogTestAgent, token: str, server: StripeTestServer) -> dict[str, str]:
    # Nothing inherited may steer ddtrace, OTel or stripe-otel: only what is set here.
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DD_", "_DD_", "OTEL_", "STRIPE_OTEL_"))
    }
    return {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "STRIPE_TEST_BASE": server.url,
        "DD_TRACE_OTEL_ENABLED": "true",
        "DD_TRACE_AGENT_URL": agent.url,
        # How ddtrace tags its payloads for the test agent's sessions (ddtrace's
        # internal/utils/formats.py get_test_session_token).
        "_DD_TRACE_WRITER_ADDITIONAL_HEADERS": f"{TOKEN_HEADER}:{token}",
        "DD_SERVICE": SERVICE,
        # ddtrace's own HTTP integrations ignore OpenTelemetry's suppression and would add a
        # span per attempt and send trace headers to Stripe: the README tells ddtrace users
        # to turn them off, and this is that configuration.
        "DD_TRACE_REQUESTS_ENABLED": "false",
        "DD_TRACE_HTTPX_ENABLED": "false",
        "DD_TRACE_URLLIB3_ENABLED": "false",
        # Only traces matter here; no telemetry or remote-config traffic.
        "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
        "DD_REMOTE_CONFIGURATION_ENABLED": "false",
    }


@pytest.fixture(scope="module")
def bridge_run(datadog_test_agent: DatadogTestAgent, _server: StripeTestServer) -> BridgeRun:
    _server.reset()
    token = datadog_test_agent.new_token("ddtrace-bridge")
    datadog_test_agent.start_session(token)
    _server.add_fault(Fault(status=500, count=1))  # the customer create is retried once
    proc = subprocess.run(
        [sys.executable, str(APP)],
        env=_app_env(datadog_test_agent, token, _server),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    stripe_requests = [(r.method, r.path, dict(r.headers)) for r in _server.requests]
    _server.reset()
    # The app flushed before exiting; the agent may still be storing the payload.
    deadline = time.monotonic() + 5
    while len(traces := datadog_test_agent.traces(token)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    agent_paths = [urlsplit(r["url"]).path for r in datadog_test_agent.requests(token)]
    assert len(traces) == 2, (
        f"expected 2 traces, got {len(traces)}; agent requests {agent_paths}\n"
        f"{proc.stderr[-3000:]}\n{datadog_test_agent.log_path.read_text()[-3000:]}"
    )
    return BridgeRun(proc.stdout, traces, agent_paths, stripe_requests)


def _ours(trace: list[DdSpan]) -> list[DdSpan]:
    """Our spans: ddtrace's own integrations tag theirs with ``component``."""
    return [s for s in trace if "component" not in s["meta"]]


def _named(trace: list[DdSpan], name: str) -> list[DdSpan]:
    return sorted((s for s in trace if s["name"] == name), key=lambda s: s["start"])


def _one(trace: list[DdSpan], name: str) -> DdSpan:
    found = _named(trace, name)
    assert len(found) == 1, f"{len(found)} {name} spans in {_outline(trace)}"
    return found[0]


def _outline(trace: list[DdSpan]) -> list[str]:
    """Each span as 'name <- parent name', for failure messages."""
    by_id = {s["span_id"]: s for s in trace}
    return [
        f"{s['name']} <- {by_id[s['parent_id']]['name'] if s['parent_id'] in by_id else '-'}"
        for s in sorted(trace, key=lambda s: s["start"])
    ]


def _dd_shapes(trace: list[DdSpan]) -> Counter[Shape]:
    by_id = {s["span_id"]: s for s in trace}
    return Counter(
        (
            s["name"],
            s["resource"],
            by_id[s["parent_id"]]["name"] if s["parent_id"] in by_id else None,
            None if sc.DD_MEASURED not in s["metrics"] else int(s["metrics"][sc.DD_MEASURED]),
            s["error"],
        )
        for s in trace
    )


def test_the_bridge_is_in_use(bridge_run: BridgeRun) -> None:
    """Guards the others: ddtrace's provider was global and sent native payloads."""
    assert bridge_run.line("PROVIDER").startswith("ddtrace."), bridge_run.stdout
    assert set(bridge_run.agent_paths) <= {"/v0.4/traces", "/v0.5/traces"}, bridge_run.agent_paths
    assert [(m, p) for m, p, _ in bridge_run.stripe_requests] == [
        ("POST", "/v1/customers"),
        ("POST", "/v1/customers"),
        ("POST", "/v1/payment_intents"),
    ]


def test_operation_and_attempt_names(bridge_run: BridgeRun) -> None:
    trace = bridge_run.trace_of(CUSTOMERS)
    names = _outline(trace)
    op = _one(trace, sc.DD_OPNAME_REQUEST)
    assert (op["name"], op["resource"], op["parent_id"]) == (sc.DD_OPNAME_REQUEST, CUSTOMERS, 0)
    assert op["meta"]["span.kind"] == "client"
    assert sc.DD_MEASURED not in op["metrics"]  # top level: measured anyway
    attempts = _named(trace, sc.SPAN_ATTEMPT)
    assert len(attempts) == 2, names
    assert all(a["resource"] == CUSTOMERS and a["parent_id"] == op["span_id"] for a in attempts)
    assert all(a["metrics"].get(sc.DD_MEASURED) == 1 for a in attempts)
    assert [(a["error"], a["meta"].get(sc.ERROR_TYPE)) for a in attempts] == [(1, "500"), (0, None)]
    assert not any(s["name"] in ("client.request", "http.client.request") for s in trace), names


def test_phase_spans_are_measured_under_the_operations_resource(bridge_run: BridgeRun) -> None:
    trace = bridge_run.trace_of(CUSTOMERS)
    names = _outline(trace)
    phases = [s for s in trace if s["name"] in PHASES]
    counts = Counter(s["name"] for s in phases)
    assert counts == {sc.SPAN_NETWORK: 4, sc.SPAN_API_PROCESSING: 2, sc.SPAN_SDK_DECODE: 1}, names
    for span in phases:
        assert span["resource"] == CUSTOMERS, span["name"]
        assert span["metrics"].get(sc.DD_MEASURED) == 1, span["name"]
        assert span["meta"].get(sc.DD_OPERATION_NAME) == span["name"]
    by_id = {s["span_id"]: s for s in trace}
    parents = Counter((s["name"], by_id[s["parent_id"]]["name"]) for s in phases)
    assert parents == {
        (sc.SPAN_NETWORK, sc.SPAN_ATTEMPT): 4,
        (sc.SPAN_API_PROCESSING, sc.SPAN_ATTEMPT): 2,
        (sc.SPAN_SDK_DECODE, sc.DD_OPNAME_REQUEST): 1,
    }


def test_decline_is_an_error_with_its_type(bridge_run: BridgeRun) -> None:
    trace = bridge_run.trace_of(INTENTS)
    op = _one(trace, sc.DD_OPNAME_REQUEST)
    assert (op["resource"], op["error"], op["parent_id"]) == (INTENTS, 1, 0)
    assert op["meta"][sc.ERROR_TYPE] == "stripe.CardError"
    assert op["meta"][sc.STRIPE_ERROR_CODE] == "card_declined"
    assert op["meta"]["error.message"].startswith("stripe.CardError (http_status=402")
    attempt = _one(trace, sc.SPAN_ATTEMPT)
    assert (attempt["resource"], attempt["error"]) == (INTENTS, 1)
    assert attempt["meta"][sc.ERROR_TYPE] == "402"
    # Stripe's own message can quote input: it must not reach any span (nor its events).
    declined = json.loads(bridge_run.line("DECLINED"))
    assert declined["code"] == "card_declined" and declined["message"]
    assert declined["message"] not in json.dumps(trace)


def test_service_is_dd_service(bridge_run: BridgeRun) -> None:
    spans = [s for t in bridge_run.traces for s in _ours(t)]
    assert {s["service"] for s in spans} == {SERVICE}


def test_span_types_as_documented(bridge_run: BridgeRun) -> None:
    """docs/semantic-conventions.md: span.type ``http`` on operations, ``custom`` otherwise."""
    types = {(s["name"], s.get("type", "")) for t in bridge_run.traces for s in _ours(t)}
    expected = {(sc.DD_OPNAME_REQUEST, "http")} | {(name, "custom") for name in (
        sc.SPAN_ATTEMPT, *PHASES
    )}  # fmt: skip
    assert types == expected


def test_same_spans_as_the_otel_sdk(
    bridge_run: BridgeRun, telemetry: Telemetry, stripe_globals: StripeTestServer
) -> None:
    """Span for span, what the OTel SDK path makes of the same two calls (op, 2 attempts
    with 3 phases each and an sdk_decode for the retried call; op, 1 attempt, 3 phases and
    an sdk_decode for the decline), as the Datadog exporters name them."""
    StripeInstrumentor().instrument(tracer_provider=telemetry.provider, datadog_names=True)
    try:
        stripe_globals.add_fault(Fault(status=500, count=1))
        stripe.Customer.create(description="through the OTel SDK")
        with pytest.raises(stripe.CardError):
            stripe.PaymentIntent.create(
                amount=2000, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True
            )
    finally:
        StripeInstrumentor().uninstrument()
    spans = telemetry.spans()
    by_id = {s.context.span_id: s for s in spans if s.context is not None}

    def dd_name(span: Any) -> str:
        return str(span.attributes[sc.DD_OPERATION_NAME])

    expected: dict[str, Counter[Shape]] = {CUSTOMERS: Counter(), INTENTS: Counter()}
    for op in telemetry.operations():
        for span in spans:
            assert span.context is not None and op.context is not None
            if span.context.trace_id != op.context.trace_id:
                continue
            attrs = span.attributes or {}
            parent = by_id.get(span.parent.span_id) if span.parent else None
            measured = attrs.get(sc.DD_MEASURED)
            expected[op.name][
                (
                    dd_name(span),
                    str(attrs.get(sc.DD_RESOURCE_NAME, span.name)),
                    None if parent is None else dd_name(parent),
                    None if measured is None else int(str(measured)),
                    int(not span.status.is_ok),
                )
            ] += 1
    assert expected[CUSTOMERS].total() == 10 and expected[INTENTS].total() == 6, expected
    for resource, shapes in expected.items():
        # ddtrace's own HTTP integration spans: the test below.
        got = _dd_shapes(_ours(bridge_run.trace_of(resource)))
        assert got == shapes, (
            f"{resource}: ddtrace-only {sorted((got - shapes).elements())}, "
            f"missing {sorted((shapes - got).elements())}"
        )


def test_http_integrations_are_suppressed_under_our_span(bridge_run: BridgeRun) -> None:
    """README: one CLIENT span per call and no trace context sent to Stripe, with ddtrace's
    HTTP integrations turned off as the README says (they ignore OTel suppression)."""
    theirs = [
        (s["name"], s["meta"]["component"], s["resource"])
        for t in bridge_run.traces
        for s in t
        if "component" in s["meta"]
    ]
    sent = [
        (path, sorted(h for h in headers if h.lower() in PROPAGATION_HEADERS))
        for _, path, headers in bridge_run.stripe_requests
    ]
    assert theirs == [], f"ddtrace integration spans under ours: {theirs}"
    assert all(not found for _, found in sent), f"trace context sent to Stripe: {sent}"
