"""examples/webhook_worker.py, end to end: Stripe's (test server's) signed webhook reaches the
app, the webhook span links back to the API call that caused it, and the background worker's
span continues the webhook's trace."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import stripe

from stripe_otel import semconv as sc
from tests.conftest import Telemetry
from tests.integration._stripe_calls import PI_PARAMS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "examples" / "webhook_worker.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_worker_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_payment_webhook_and_background_work_are_one_trace(
    instrument: Telemetry, stripe_globals: Any
) -> None:
    example = _load()
    # The example uses the global tracer provider, as an app would; the suite's is not global.
    example.tracer = instrument.provider.get_tracer("examples.webhook_worker")
    app = example.serve(0, "")
    try:
        secret = stripe_globals.add_webhook_endpoint(
            f"http://127.0.0.1:{app.server_port}/", events=["payment_intent.succeeded"]
        )
        example.WebhookHandler.secret = secret
        intent = stripe.PaymentIntent.create(**PI_PARAMS)
        confirmed = stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_visa")
        stripe_globals.wait_for_deliveries(1)
        example.jobs.join()  # the worker has fulfilled the order
        _wait(lambda: any(s.name == "fulfil order" for s in instrument.spans()))
    finally:
        app.shutdown()
        example.jobs.put(None)

    spans = instrument.spans()
    [confirm] = [s for s in spans if s.name == "POST /v1/payment_intents/{intent}/confirm"]
    [hook] = [s for s in spans if s.name == "stripe.webhook"]
    [fulfil] = [s for s in spans if s.name == "fulfil order"]
    [retrieve] = [s for s in spans if s.name == "GET /v1/payment_intents/{intent}"]
    assert hook.attributes[sc.STRIPE_EVENT_TYPE] == "payment_intent.succeeded"
    assert hook.attributes[sc.STRIPE_REQUEST_ID] == confirmed.last_response.request_id
    assert hook.attributes[sc.STRIPE_WEBHOOK_SIGNATURE_VALID] is True
    assert [link.context.span_id for link in hook.links] == [confirm.context.span_id]
    [request] = [s for s in spans if s.name == "POST /webhooks/stripe"]
    assert hook.parent.span_id == request.context.span_id
    # The worker continued the delivery's trace across the queue.
    assert fulfil.context.trace_id == hook.context.trace_id == request.context.trace_id
    assert fulfil.parent.span_id == request.context.span_id
    assert retrieve.parent.span_id == fulfil.context.span_id
