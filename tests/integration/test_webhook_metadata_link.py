"""Opt-in cross-process links through metadata: what it writes to Stripe, and the link back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from stripe._webhook import WebhookSignature

from stripe_otel import StripeInstrumentor, _links
from stripe_otel import semconv as sc
from tests.conftest import Telemetry
from tests.integration._stripe_calls import PI_PARAMS

pytestmark = pytest.mark.integration
SECRET = "whsec_metadata_link_secret"
KEY = sc.METADATA_TRACEPARENT_KEY


@pytest.fixture
def linking(telemetry: Telemetry) -> Iterator[Telemetry]:
    StripeInstrumentor().instrument(tracer_provider=telemetry.provider, webhook_metadata_link=True)
    yield telemetry
    StripeInstrumentor().uninstrument()


def _deliver(intent: Any) -> None:
    payload = json.dumps({
        "id": "evt_1MetadataLink0001", "object": "event", "type": "payment_intent.succeeded",
        "created": int(time.time()), "data": {"object": intent.to_dict()},
    })  # fmt: skip
    t = int(time.time())
    header = f"t={t},v1={WebhookSignature._compute_signature(f'{t}.{payload}', SECRET)}"
    stripe.Webhook.construct_event(payload, header, SECRET)


def test_link_through_metadata_across_processes(linking: Telemetry, stripe_globals: Any) -> None:
    params = {**PI_PARAMS, "metadata": {"order_id": "A-1001"}}
    intent = stripe.PaymentIntent.create(**params)
    assert params["metadata"] == {"order_id": "A-1001"}  # the app's dict is untouched
    assert intent.metadata["order_id"] == "A-1001"  # the app's key is kept
    [create] = linking.operations()
    stored = intent.metadata[KEY]
    ctx = create.context
    assert stored == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    _links.forget()  # as if the webhook were handled by another process
    _deliver(intent)
    [hook] = [s for s in linking.spans() if s.name == "stripe.webhook"]
    [link] = hook.links
    assert link.context.span_id == create.context.span_id and link.context.is_remote
    assert link.attributes[sc.STRIPE_LINK_SOURCE] == "metadata"


def test_never_overwrites_and_skips_actions(linking: Telemetry, stripe_globals: Any) -> None:
    mine = {**PI_PARAMS, "metadata": {KEY: "the-apps-own-value"}}
    intent = stripe.PaymentIntent.create(**mine)
    assert intent.metadata[KEY] == "the-apps-own-value"
    stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_visa")  # an action: no metadata
    [confirm] = [r for r in stripe_globals.requests if r.path.endswith("/confirm")]
    assert KEY.encode() not in confirm.body


def test_full_metadata_is_left_alone(linking: Telemetry, stripe_globals: Any) -> None:
    full = {f"k{i}": "v" for i in range(50)}
    intent = stripe.PaymentIntent.create(**PI_PARAMS, metadata=full)
    assert KEY not in intent.metadata


def test_off_by_default(instrument: Telemetry, stripe_globals: Any) -> None:
    intent = stripe.PaymentIntent.create(**PI_PARAMS)
    assert KEY not in intent.metadata


def test_app_idempotent_retries_are_never_altered(linking: Telemetry, stripe_globals: Any) -> None:
    # A retry with the same key must send the same parameters, or Stripe refuses it.
    first = stripe.PaymentIntent.create(**PI_PARAMS, idempotency_key="order-42")
    again = stripe.PaymentIntent.create(**PI_PARAMS, idempotency_key="order-42")
    assert first.id == again.id
    assert KEY not in first.metadata


def test_updates_are_left_alone(linking: Telemetry, stripe_globals: Any) -> None:
    # An update could push an object already holding 50 keys past Stripe's limit.
    intent = stripe.PaymentIntent.create(**PI_PARAMS)
    stripe.PaymentIntent.modify(intent.id, description="changed")
    [update] = [r for r in stripe_globals.requests if r.path == f"/v1/payment_intents/{intent.id}"]
    assert KEY.encode() not in update.body
