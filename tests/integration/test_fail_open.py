"""Fail open: with every one of our hooks raising, the app sees exactly what it would
see uninstrumented — same values, same exceptions, same number of HTTP requests."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe
from stripe._webhook import WebhookSignature

from stripe_otel import (
    _attempts,
    _guard,
    _links,
    _metadata_link,
    _metrics,
    _operation,
    _phase_spans,
    _phases,
    _timing,
    _transaction,
    _webhooks,
    internal_error_counts,
)
from stripe_otel._patches import httpx_transport, urllib3_transport, urllib_transport
from stripe_otel._patches import requestor as requestor_patch
from stripe_otel._patches import retry_loop as retry_loop_patch
from stripe_otel.testing import Fault
from tests.conftest import Telemetry
from tests.integration._stripe_calls import PI_PARAMS, use_global_transport

pytestmark = pytest.mark.integration

# Every function our wrappers call into. Replacing them with raisers simulates a bug in
# any of them (and in anything they call).
HOOKS: list[tuple[Any, str]] = [
    (_operation, "start"),
    (_operation, "finish"),
    (_operation, "detach"),
    (_attempts, "begin_loop"),
    (_attempts, "end_loop"),
    (_attempts, "start_attempt"),
    (_attempts, "attempt_returned"),
    (_attempts, "attempt_raised"),
    (_attempts, "retry_decided"),
    (_attempts, "backoff_chosen"),
    (retry_loop_patch, "_prepare"),
    (requestor_patch, "_start"),
    # Phases: the timeline, the transport hooks, the model, the spans, metrics, totals.
    (_timing, "start"),
    (_timing, "current"),
    (_timing, "cpu_now"),
    (_timing.Timeline, "mark"),
    (httpx_transport, "_attach"),
    (httpx_transport, "_observe"),
    (urllib3_transport, "_mark"),
    (urllib3_transport, "_tls_started"),
    (urllib3_transport, "_tls_finished"),
    (urllib_transport, "_tls_started"),
    (urllib_transport, "_tls_finished"),
    (_attempts, "_account_phases"),
    (_phases, "breakdown"),
    (_phase_spans, "emit"),
    (_phase_spans, "emit_decode"),
    (_metrics, "record_operation"),
    (_metrics, "record_phases"),
    (_transaction, "add_operation"),
    # Webhooks and the link map.
    (_webhooks, "start"),
    (_webhooks, "detach"),
    (_webhooks, "finish"),
    (_webhooks, "verify_start"),
    (_webhooks, "verify_end"),
    (_links, "remember"),
    (_links, "lookup"),
    (_metadata_link, "with_traceparent"),
    (_metadata_link, "parse"),
]


class HookBug(Exception):
    pass


def _raiser(*_args: Any, **_kwargs: Any) -> Any:
    raise HookBug("a bug in stripe-otel")


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What the app observes, minus values the server makes unique per request."""
    try:
        result = call()
    except Exception as exc:
        err = getattr(exc, "error", None)
        return (
            "raised",
            type(exc),
            getattr(exc, "http_status", None),
            getattr(exc, "code", None),
            getattr(err, "decline_code", None),
            getattr(exc, "user_message", None)
            if not isinstance(exc, stripe.APIConnectionError)
            else None,
        )
    fields = ("object", "status", "amount", "currency", "has_more")
    return ("returned", type(result), *(getattr(result, f, None) for f in fields))


_SECRET = "whsec_fail_open_secret"
_PAYLOAD = '{"id": "evt_1FailOpen", "object": "event", "type": "x.y", "data": {"object": {}}}'


def _signed(payload: str, secret: str = _SECRET) -> str:
    t = int(time.time())
    return f"t={t},v1={WebhookSignature._compute_signature(f'{t}.{payload}', secret)}"


WORKLOADS: dict[str, tuple[Fault | None, Callable[[], Any]]] = {
    "success": (None, lambda: stripe.PaymentIntent.create(**PI_PARAMS)),
    "declined": (
        None,
        lambda: stripe.PaymentIntent.create(
            **PI_PARAMS, payment_method="pm_card_chargeDeclined", confirm=True
        ),
    ),
    "500-then-200": (Fault(status=500, count=1), lambda: stripe.Customer.create()),
    "500-exhausted": (Fault(status=500, count=5), lambda: stripe.Customer.create()),
    "429-no-retry": (
        Fault(status=429, should_retry=False, error_type="rate_limit_error"),
        lambda: stripe.Customer.create(),
    ),
    "reset-then-200": (Fault(action="reset", count=1), lambda: stripe.Customer.create()),
    "reset-exhausted": (Fault(action="reset", count=5), lambda: stripe.Customer.create()),
    "not-found": (None, lambda: stripe.Customer.retrieve("cus_Missing000001")),
    "list": (None, lambda: stripe.Customer.list(limit=3)),
    "webhook": (None, lambda: stripe.Webhook.construct_event(_PAYLOAD, _signed(_PAYLOAD), _SECRET)),
    "webhook-bad-signature": (
        None,
        lambda: stripe.Webhook.construct_event(_PAYLOAD, _signed(_PAYLOAD, "whsec_x"), _SECRET),
    ),
}


def _run(server: Any, fault: Fault | None, call: Callable[[], Any]) -> tuple[tuple[Any, ...], int]:
    server.reset()
    if fault is not None:
        server.add_fault(fault)
    outcome = _outcome(call)
    return outcome, server.request_count


@pytest.fixture
def broken_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for module, name in HOOKS:
        monkeypatch.setattr(module, name, _raiser)
    yield


@pytest.mark.parametrize("transport", ["requests", "httpx", "urllib"])
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_outcomes_identical_with_every_hook_raising(
    workload: str,
    transport: str,
    stripe_globals: Any,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fault, call = WORKLOADS[workload]
    use_global_transport(transport)
    bare = _run(stripe_globals, fault, call)

    from stripe_otel import StripeInstrumentor

    StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
    try:
        healthy = _run(stripe_globals, fault, call)
        for module, name in HOOKS:
            monkeypatch.setattr(module, name, _raiser)
        before = sum(internal_error_counts().values())
        broken = _run(stripe_globals, fault, call)
        assert sum(internal_error_counts().values()) > before  # the bugs were hit, and counted
    finally:
        monkeypatch.undo()
        StripeInstrumentor().uninstrument()
    assert healthy == bare
    assert broken == bare


async def test_async_outcome_identical_with_hooks_raising(
    stripe_globals: Any, instrument: Telemetry, broken_hooks: None
) -> None:
    use_global_transport("httpx")
    stripe_globals.add_fault(Fault(status=500, count=1))
    customer = await stripe.Customer.create_async(description="async")
    assert customer.object == "customer"
    assert stripe_globals.request_count == 2
    # HTTPXClient would turn an exception from a hook inside the transport into a retried
    # APIConnectionError: the request count above proves none escaped.


def test_internal_errors_are_logged_once_per_interval(
    stripe_globals: Any, instrument: Telemetry, broken_hooks: None, caplog: pytest.LogCaptureFixture
) -> None:
    _guard.configure(log_interval=3600, counter=None)
    with caplog.at_level(logging.WARNING, logger="stripe_otel"):
        for _ in range(5):
            stripe.Customer.create(description="noisy")
    per_hook = [r for r in caplog.records if "internal error in" in r.getMessage()]
    hooks = [r.args[0] for r in per_hook]  # type: ignore[index]
    assert hooks, "the failures were not logged at all"
    assert len(hooks) == len(set(hooks)), "a hook's failure was logged more than once"
    assert all("a bug in stripe-otel" not in r.getMessage() for r in per_hook)  # no messages


def test_internal_error_metric(
    stripe_globals: Any, instrument: Telemetry, broken_hooks: None
) -> None:
    stripe.Customer.create(description="counted")
    data = instrument.metrics.get_metrics_data()
    points = [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "stripe_otel.internal.errors"
        for point in metric.data.data_points
    ]
    assert sum(p.value for p in points) >= 1


def test_operation_span_still_ends_when_finish_fails(
    stripe_globals: Any, instrument: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_operation, "finish", _raiser)
    stripe.Customer.create(description="half-recorded")
    [op] = instrument.operations()
    assert op.name == "POST /v1/customers"
    assert op.end_time is not None


@pytest.mark.parametrize(("module", "name"), HOOKS, ids=[f"{m.__name__}.{n}" for m, n in HOOKS])
@pytest.mark.parametrize("transport", ["httpx", "requests"])
def test_each_hook_failing_alone_changes_nothing(
    module: Any,
    name: str,
    transport: str,
    stripe_globals: Any,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One hook at a time, so that no earlier failure shields it. Over httpx a hook that
    # raised inside the transport would become a retried APIConnectionError: the request
    # count would show it.
    fault, call = WORKLOADS["500-then-200"]
    use_global_transport(transport)
    bare = _run(stripe_globals, fault, call)

    from stripe_otel import StripeInstrumentor

    StripeInstrumentor().instrument(tracer_provider=telemetry.provider)
    try:
        monkeypatch.setattr(module, name, _raiser)
        broken = _run(stripe_globals, fault, call)
    finally:
        monkeypatch.undo()
        StripeInstrumentor().uninstrument()
    assert broken == bare


def test_a_failed_detach_does_not_silence_later_calls(
    stripe_globals: Any, instrument: Telemetry
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_operation, "detach", _raiser)
        stripe.Customer.create(description="detach fails")
    stripe.Customer.create(description="next call")
    first, second = instrument.operations()
    # The caller's context was restored anyway: the next call is a new root, not a child.
    assert second.parent is None
    assert second.context.trace_id != first.context.trace_id
