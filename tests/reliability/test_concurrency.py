"""Many callers at once: every span has the right parent and trace, and no attribute of one
call bleeds into another.

Each caller (a thread, or an asyncio task) runs inside its own app span, uses its own
connected account (``Stripe-Account``) and idempotency keys, and makes three calls over
one *shared* StripeClient: a create directly under its span, then a retrieve and an
update inside its own ``stripe_otel.transaction()``. The server answers after a small
delay so the calls really overlap, and a few attempts fail with a retryable 500 so some
operations have two attempt spans.

Every operation span is tied back to the call that made it through the request id the
app itself saw (not through the span tree, which is what is being checked), and every
attempt span to the request the server recorded, with the headers that caller sent.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from stripe._http_client import HTTPClient

import stripe_otel
from stripe_otel import StripeInstrumentor, semconv
from stripe_otel.testing import Fault, StripeTestServer
from tests.conftest import TEST_KEY, Telemetry

pytestmark = [pytest.mark.integration]

SERVER_DELAY_MS = 25
# Retryable 500s handed to whichever requests come first: some operations get 2 attempts.
RETRIED = 6


@dataclass
class Call:
    """One call as the app saw it."""

    caller: Caller
    parent_span_id: int
    request_id: str
    object_id: str
    idempotency_key: str | None


@dataclass
class Caller:
    index: int
    account: str
    trace_id: int = 0
    span_id: int = 0
    transaction_span_id: int = 0
    calls: list[Call] = field(default_factory=list)


@pytest.fixture
def traced(
    telemetry: Telemetry, server: StripeTestServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Telemetry]:
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.02)
    server.set_delay(SERVER_DELAY_MS)
    server.add_fault(Fault(status=500, count=RETRIED, should_retry=True))
    StripeInstrumentor().instrument(
        tracer_provider=telemetry.provider,
        meter_provider=telemetry.meter_provider,
        record_object_id=True,
        record_idempotency_key=True,
        phases=True,
        attempt_spans=True,
    )
    try:
        yield telemetry
    finally:
        StripeInstrumentor().uninstrument()


def _client(server: StripeTestServer, http_client: stripe.HTTPClient) -> stripe.StripeClient:
    return stripe.StripeClient(
        TEST_KEY,
        base_addresses={"api": server.url},
        http_client=http_client,
        max_network_retries=2,
    )


def _span_ids(caller: Caller, span: Any) -> tuple[int, int]:
    ctx = span.get_span_context()
    return ctx.trace_id, ctx.span_id


def _options(caller: Caller, idempotency_key: str | None = None) -> stripe.RequestOptions:
    options: stripe.RequestOptions = {"stripe_account": caller.account}
    if idempotency_key is not None:
        options["idempotency_key"] = idempotency_key
    return options


def _record(caller: Caller, parent_span_id: int, obj: Any, key: str | None) -> None:
    caller.calls.append(Call(caller, parent_span_id, obj.last_response.request_id, obj.id, key))


def run_sync_caller(
    telemetry: Telemetry, client: stripe.StripeClient, caller: Caller, barrier: threading.Barrier
) -> None:
    tracer = telemetry.provider.get_tracer("app")
    barrier.wait()
    with tracer.start_as_current_span(f"caller {caller.index}") as span:
        caller.trace_id, caller.span_id = _span_ids(caller, span)
        key = f"conc-create-{caller.index}"
        customer = client.v1.customers.create(
            params={"description": f"caller {caller.index}"},
            options=_options(caller, key),
        )
        _record(caller, caller.span_id, customer, key)
        with stripe_otel.transaction(f"checkout {caller.index}"):
            # The transaction span is current inside it: the parent of its operations.
            caller.transaction_span_id = trace.get_current_span().get_span_context().span_id
            got = client.v1.customers.retrieve(customer.id, options=_options(caller))
            _record(caller, caller.transaction_span_id, got, None)
            key = f"conc-update-{caller.index}"
            updated = client.v1.customers.update(
                customer.id,
                params={"metadata": {"caller": str(caller.index)}},
                options=_options(caller, key),
            )
            _record(caller, caller.transaction_span_id, updated, key)


async def run_async_caller(
    telemetry: Telemetry, client: stripe.StripeClient, caller: Caller, start: asyncio.Event
) -> None:
    tracer = telemetry.provider.get_tracer("app")
    await start.wait()
    with tracer.start_as_current_span(f"caller {caller.index}") as span:
        caller.trace_id, caller.span_id = _span_ids(caller, span)
        key = f"conc-create-{caller.index}"
        customer = await client.v1.customers.create_async(
            params={"description": f"caller {caller.index}"},
            options=_options(caller, key),
        )
        _record(caller, caller.span_id, customer, key)
        async with stripe_otel.transaction(f"checkout {caller.index}"):
            caller.transaction_span_id = trace.get_current_span().get_span_context().span_id
            key = f"conc-update-{caller.index}"
            updated = await client.v1.customers.update_async(
                customer.id,
                params={"metadata": {"caller": str(caller.index)}},
                options=_options(caller, key),
            )
            _record(caller, caller.transaction_span_id, updated, key)


def _callers(n: int, label: str) -> list[Caller]:
    return [Caller(i, f"acct_{label}{i:04d}") for i in range(n)]


def max_in_flight(spans: Sequence[ReadableSpan]) -> int:
    """The most operations that were open at one instant."""
    edges = []
    for span in spans:
        assert span.start_time is not None and span.end_time is not None
        edges.append((span.start_time, 1))
        edges.append((span.end_time, -1))
    edges.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def check(
    telemetry: Telemetry, server: StripeTestServer, callers: list[Caller], *, phases: bool
) -> None:
    """Every span's parent, trace and per-call attributes belong to the call that made it."""
    spans = telemetry.spans()
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    calls = {call.request_id: call for caller in callers for call in caller.calls}
    assert len(calls) == sum(len(c.calls) for c in callers), "two calls, one request id?"
    recorded = {r.request_id: r for r in server.requests}
    ops = telemetry.operations()
    assert len(ops) == len(calls)
    assert max_in_flight(ops) > 1, "the calls did not overlap: nothing was tested"

    op_call: dict[int, Call] = {}
    for op in ops:
        assert op.context is not None and op.attributes is not None
        call = calls.pop(str(op.attributes[semconv.STRIPE_REQUEST_ID]))  # each exactly once
        caller = call.caller
        op_call[op.context.span_id] = call
        assert op.parent is not None and op.parent.span_id == call.parent_span_id, op.name
        assert op.context.trace_id == caller.trace_id
        assert op.attributes[semconv.STRIPE_ACCOUNT] == caller.account
        assert op.attributes[semconv.STRIPE_OBJECT_ID] == call.object_id
        if call.idempotency_key is not None:
            assert op.attributes[semconv.STRIPE_IDEMPOTENCY_KEY] == call.idempotency_key
        # What the server saw for the final attempt came from this caller.
        final = recorded[call.request_id]
        assert final.headers["stripe-account"] == caller.account
        assert op.attributes.get(semconv.STRIPE_IDEMPOTENCY_KEY) == final.headers.get(
            "idempotency-key"
        )
    assert not calls, f"calls without an operation span: {sorted(calls)[:5]}"

    attempts: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        if span.name != semconv.SPAN_ATTEMPT:
            continue
        assert span.parent is not None and span.context is not None
        call = op_call[span.parent.span_id]  # the parent is an operation span
        assert span.context.trace_id == call.caller.trace_id
        assert span.attributes is not None
        request = recorded[str(span.attributes[semconv.STRIPE_REQUEST_ID])]
        assert request.headers["stripe-account"] == call.caller.account
        if call.idempotency_key is not None:
            assert request.headers["idempotency-key"] == call.idempotency_key
        attempts[span.parent.span_id].append(span)
    for op in ops:
        assert op.context is not None and op.attributes is not None
        tries = sorted(attempts[op.context.span_id], key=lambda s: s.start_time or 0)
        assert [t.attributes[semconv.STRIPE_ATTEMPT] for t in tries if t.attributes] == list(
            range(1, len(tries) + 1)
        )
        last = tries[-1].attributes
        assert last is not None
        assert last[semconv.STRIPE_REQUEST_ID] == op.attributes[semconv.STRIPE_REQUEST_ID]
        assert op.attributes.get(semconv.STRIPE_NUM_RETRIES, 0) == len(tries) - 1
    assert sum(len(t) for t in attempts.values()) == len(ops) + RETRIED

    phase_spans = [s for s in spans if s.name in semconv.ALL_SPAN_NAMES and _is_phase(s)]
    for span in phase_spans:
        assert span.parent is not None and span.context is not None
        parent = by_id[span.parent.span_id]
        if span.name == semconv.SPAN_SDK_DECODE:
            owner = op_call[span.parent.span_id]
        else:
            assert parent.name == semconv.SPAN_ATTEMPT
            assert parent.parent is not None
            owner = op_call[parent.parent.span_id]
        assert span.context.trace_id == owner.caller.trace_id
    if phases:
        assert phase_spans, "no phase spans: the transport was not timed"
        _check_transactions(spans, ops, op_call, callers)


def _is_phase(span: ReadableSpan) -> bool:
    return span.attributes is not None and semconv.STRIPE_PHASE in span.attributes


def _check_transactions(
    spans: list[ReadableSpan],
    ops: list[ReadableSpan],
    op_call: dict[int, Call],
    callers: list[Caller],
) -> None:
    """Each transaction's phase totals are the sums over its own operations."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    sums: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for op in ops:
        assert op.context is not None and op.attributes is not None
        call = op_call[op.context.span_id]
        if call.parent_span_id != call.caller.transaction_span_id:
            continue
        for key in (
            semconv.STRIPE_PHASE_NETWORK_MS,
            semconv.STRIPE_PHASE_API_PROCESSING_MS,
            semconv.STRIPE_PHASE_SDK_DECODE_MS,
        ):
            sums[call.parent_span_id][key] += float(op.attributes[key])  # type: ignore[arg-type]
    for caller in callers:
        tx = by_id[caller.transaction_span_id]
        assert tx.attributes is not None and tx.parent is not None
        assert tx.attributes[semconv.STRIPE_TRANSACTION] == f"checkout {caller.index}"
        assert tx.context is not None and tx.context.trace_id == caller.trace_id
        inside = sum(1 for c in caller.calls if c.parent_span_id == caller.transaction_span_id)
        assert tx.attributes[semconv.STRIPE_TRANSACTION_OPERATIONS] == inside
        for key, total in sums[caller.transaction_span_id].items():
            assert math.isclose(float(tx.attributes[key]), total, rel_tol=1e-9, abs_tol=1e-6), (  # type: ignore[arg-type]
                caller.index,
                key,
            )


@pytest.mark.parametrize("transport", ["requests", "httpx"])
def test_threads_share_a_client_without_bleed(
    traced: Telemetry, server: StripeTestServer, transport: str
) -> None:
    http_client = (
        stripe.RequestsClient()
        if transport == "requests"
        else stripe.HTTPXClient(allow_sync_methods=True)
    )
    client = _client(server, http_client)
    callers = _callers(16, "t")
    barrier = threading.Barrier(len(callers))
    errors: list[BaseException] = []

    def run(caller: Caller) -> None:
        try:
            run_sync_caller(traced, client, caller, barrier)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    check(traced, server, callers, phases=True)


async def _run_tasks(
    traced: Telemetry, clients: Sequence[stripe.StripeClient], callers: list[Caller]
) -> None:
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(run_async_caller(traced, clients[c.index % len(clients)], c, start))
        for c in callers
    ]
    await asyncio.sleep(0)
    start.set()
    await asyncio.gather(*tasks)


@pytest.mark.slow
async def test_asyncio_tasks_over_httpx_without_bleed(
    traced: Telemetry, server: StripeTestServer
) -> None:
    # httpcore's pool rescans every waiting request against every connection whenever one
    # frees up (quadratic): 1,000 requests queued on one client would cost minutes of CPU.
    # So 20 clients, each shared by 50 tasks.
    clients = [_client(server, stripe.HTTPXClient()) for _ in range(20)]
    callers = _callers(1000, "a")
    await _run_tasks(traced, clients, callers)
    check(traced, server, callers, phases=True)


@pytest.mark.slow
async def test_asyncio_tasks_over_aiohttp_without_bleed(
    traced: Telemetry, server: StripeTestServer
) -> None:
    http_client = stripe.AIOHTTPClient()
    client = _client(server, http_client)
    callers = _callers(200, "h")
    try:
        await _run_tasks(traced, [client], callers)
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]
    # aiohttp cannot be timed: no phase spans, but parents and attributes must hold.
    check(traced, server, callers, phases=False)
    assert all(
        op.attributes is not None and op.attributes.get(semconv.STRIPE_HTTP_CLIENT) == "aiohttp"
        for op in traced.operations()
    )
    assert all(op.kind is SpanKind.CLIENT for op in traced.operations())
