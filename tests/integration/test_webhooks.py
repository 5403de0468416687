"""Webhook spans: verify and decode children, event facts, links back to the API call that
caused the event; and the app gets exactly the exception it would get without us."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe
from opentelemetry.trace import SpanKind, StatusCode
from stripe._webhook import WebhookSignature

from stripe_otel import semconv as sc
from tests.conftest import Telemetry
from tests.integration._stripe_calls import PI_PARAMS, stripe_client

pytestmark = pytest.mark.integration

SECRET = "whsec_test_secret_for_stripe_otel_0001"


def signed(payload: str, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    return f"t={t},v1={WebhookSignature._compute_signature(f'{t}.{payload}', secret)}"


def event_for(intent: Any, request_id: str | None, idempotency_key: str | None) -> str:
    return json.dumps(
        {
            "id": "evt_1WebhookTest000001",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()) - 2,
            "livemode": False,
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": intent.id, "object": "payment_intent", "amount": 2000,
                                "receipt_email": "jane.secret@example.com"}},
            "request": {"id": request_id, "idempotency_key": idempotency_key},
        }
    )  # fmt: skip


def _webhook_spans(telemetry: Telemetry) -> dict[str, Any]:
    return {s.name: s for s in telemetry.spans() if s.name.startswith("stripe.webhook")}


def test_snapshot_event_spans_attributes_and_link(
    instrument: Telemetry, stripe_globals: Any
) -> None:
    intent = stripe.PaymentIntent.create(**PI_PARAMS)
    response = intent.last_response
    payload = event_for(intent, response.request_id, response.idempotency_key)
    event = stripe.Webhook.construct_event(payload, signed(payload), SECRET)
    assert event.type == "payment_intent.succeeded"

    spans = _webhook_spans(instrument)
    hook, verify, decode = (
        spans["stripe.webhook"],
        spans["stripe.webhook.verify"],
        spans["stripe.webhook.decode"],
    )
    assert hook.kind is SpanKind.CONSUMER
    assert verify.parent.span_id == hook.context.span_id
    assert decode.parent.span_id == hook.context.span_id
    assert verify.end_time <= decode.start_time and decode.end_time == hook.end_time
    attrs = hook.attributes
    assert attrs[sc.STRIPE_EVENT_ID] == "evt_1WebhookTest000001"
    assert attrs[sc.STRIPE_EVENT_TYPE] == "payment_intent.succeeded"
    assert attrs[sc.STRIPE_EVENT_KIND] == "snapshot"
    assert attrs[sc.STRIPE_OBJECT_ID] == intent.id
    assert attrs[sc.STRIPE_REQUEST_ID] == response.request_id
    assert attrs[sc.STRIPE_IDEMPOTENCY_KEY] == response.idempotency_key
    assert attrs[sc.STRIPE_WEBHOOK_SIGNATURE_VALID] is True
    assert 1_000 <= attrs[sc.STRIPE_EVENT_AGE_MS] < 60_000
    assert 0 <= attrs[sc.STRIPE_WEBHOOK_DELIVERY_LAG_MS] < 60_000
    # In-process link to the API call that caused the event.
    [create] = [op for op in instrument.operations() if op.name == "POST /v1/payment_intents"]
    [link] = hook.links
    assert link.context.span_id == create.context.span_id
    assert link.attributes[sc.STRIPE_LINK_SOURCE] == "in_process"
    dumped = json.dumps([dict(s.attributes or {}) for s in spans.values()] + [str(hook.events)])
    assert "jane.secret@example.com" not in dumped and SECRET not in dumped and "v1=" not in dumped


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (lambda p: signed(p, secret="whsec_wrong"), "No signatures found matching"),
        (lambda p: signed(p, t=int(time.time()) - 3600), "outside the tolerance zone"),
        (lambda p: "garbage", "Unable to extract timestamp"),
    ],
    ids=["bad-signature", "stale", "no-timestamp"],
)
def test_verification_failures_reach_the_app_unchanged(
    header: Any, expected: str, instrument: Telemetry, stripe_globals: Any
) -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x"})
    with pytest.raises(stripe.SignatureVerificationError, match=expected) as caught:
        stripe.Webhook.construct_event(payload, header(payload), SECRET)
    assert caught.value.sig_header == header(payload) or expected != "No signatures"
    spans = _webhook_spans(instrument)
    assert set(spans) == {
        "stripe.webhook",
        "stripe.webhook.verify",
    }  # no decode after a failed check
    hook = spans["stripe.webhook"]
    assert hook.status.status_code is StatusCode.ERROR
    assert hook.attributes[sc.STRIPE_WEBHOOK_SIGNATURE_VALID] is False
    assert hook.attributes[sc.ERROR_TYPE] == "stripe.SignatureVerificationError"
    assert spans["stripe.webhook.verify"].attributes[sc.STRIPE_WEBHOOK_SIGNATURE_VALID] is False
    assert expected not in json.dumps([str(e.attributes) for e in hook.events])  # no message text


def test_malformed_payload(instrument: Telemetry, stripe_globals: Any) -> None:
    payload = "{not json"
    with pytest.raises(json.JSONDecodeError):
        stripe.Webhook.construct_event(payload, signed(payload), SECRET)
    spans = _webhook_spans(instrument)
    assert spans["stripe.webhook.decode"].status.status_code is StatusCode.ERROR
    assert spans["stripe.webhook"].attributes[sc.STRIPE_WEBHOOK_SIGNATURE_VALID] is True


def test_client_construct_event_is_one_webhook_span(
    instrument: Telemetry, stripe_globals: Any
) -> None:
    client = stripe_client(stripe_globals.url, "requests")
    intent = client.v1.payment_intents.create(params=PI_PARAMS)
    payload = event_for(intent, None, None)
    client.construct_event(payload, signed(payload), SECRET)
    assert [s.name for s in instrument.spans() if s.name == "stripe.webhook"] == ["stripe.webhook"]


def test_thin_event_notification(instrument: Telemetry, stripe_globals: Any) -> None:
    client = stripe_client(stripe_globals.url, "requests")
    payload = json.dumps(
        {
            "id": "evt_test_65RThinEvent0001",
            "object": "v2.core.event",
            "type": "v1.billing.meter.no_meter_found",
            "created": "2026-11-24T05:00:00.000Z",
            "livemode": False,
            "reason": {
                "type": "request",
                "request": {"id": "req_ThinReq0000001", "idempotency_key": "ik-1"},
            },
        }
    )
    notification = client.parse_event_notification(payload, signed(payload), SECRET)
    assert notification.id == "evt_test_65RThinEvent0001"
    hook = _webhook_spans(instrument)["stripe.webhook"]
    assert hook.attributes[sc.STRIPE_EVENT_KIND] == "thin"
    assert hook.attributes[sc.STRIPE_REQUEST_ID] == "req_ThinReq0000001"
    assert hook.attributes[sc.STRIPE_EVENT_AGE_MS] > 0


def test_without_verification_has_no_verify_span(
    instrument: Telemetry, stripe_globals: Any
) -> None:
    payload = json.dumps(
        {"id": "evt_2", "object": "event", "type": "customer.created", "data": {"object": {}}}
    )
    stripe.Webhook.construct_event_without_verification(payload)
    spans = _webhook_spans(instrument)
    assert set(spans) == {"stripe.webhook", "stripe.webhook.decode"}
    assert sc.STRIPE_WEBHOOK_SIGNATURE_VALID not in spans["stripe.webhook"].attributes
