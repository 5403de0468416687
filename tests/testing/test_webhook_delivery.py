"""StripeTestServer delivers signed webhooks that the real stripe SDK verifies."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from stripe_otel.testing import StripeTestServer

pytestmark = pytest.mark.integration


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    verified: Any = None  # the SDK's event, or the exception it raised


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that verifies with the SDK, as an app would."""

    url: str = ""
    secret: str | None = None
    thin: bool = False
    statuses: list[int] = field(default_factory=list)  # answers to give first; then 200
    sleep: float = 0.0
    got: list[Received] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def verify(self, body: bytes, header: str) -> Any:
        if self.thin:
            client = stripe.StripeClient("sk_test_x")
            return client.parse_event_notification(body, header, self.secret)
        return stripe.Webhook.construct_event(body, header, self.secret)

    def wait(self, n: int, timeout: float = 5.0) -> list[Received]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.got) >= n, timeout), self.got
            return list(self.got)

    def event(self, event_type: str) -> Received:
        with self.cond:
            self.cond.wait_for(
                lambda: any(json.loads(r.body)["type"] == event_type for r in self.got), 5.0
            )
            return next(r for r in self.got if json.loads(r.body)["type"] == event_type)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec = Received(self.path, dict(self.headers), body, time.time())
            status = 200
            try:
                rec.verified = rx.verify(body, self.headers["Stripe-Signature"])
            except stripe.SignatureVerificationError as exc:
                rec.verified, status = exc, 400
            time.sleep(rx.sleep)
            with rx.cond:
                if rx.statuses and status == 200:
                    status = rx.statuses.pop(0)
                rx.got.append(rec)
                rx.cond.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    rx.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield rx
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client(server: StripeTestServer) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_x", base_addresses={"api": server.url})


def get_raw(server: StripeTestServer, path: str) -> bytes:
    req = urllib.request.Request(server.url + path, headers={"Authorization": "Bearer sk_test_x"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        body: bytes = resp.read()
        return body


def test_payment_intent_succeeded_verifies_and_carries_the_request(
    server: StripeTestServer, receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.secret = server.add_webhook_endpoint(receiver.url, events=["payment_intent.succeeded"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9]{32}", receiver.secret)
    pi = client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    confirmed = client.v1.payment_intents.confirm(
        pi.id, {"payment_method": "pm_card_visa"}, {"idempotency_key": "confirm-42"}
    )
    [rec] = receiver.wait(1)
    assert rec.path == "/hooks"
    assert rec.headers["Content-Type"] == "application/json; charset=utf-8"
    assert rec.headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    event = rec.verified
    assert isinstance(event, stripe.Event), event
    assert event.type == "payment_intent.succeeded"  # the filter kept payment_intent.created out
    assert event.data.object["id"] == pi.id
    assert event.data.object["status"] == "succeeded"
    assert event.request.id == confirmed.last_response.request_id
    assert event.request.idempotency_key == "confirm-42"
    assert event.pending_webhooks == 1
    assert rec.body == get_raw(server, f"/v1/events/{event.id}")
    [d] = server.webhook_deliveries
    assert (d.url, d.event_id, d.event_type, d.status, d.attempt) == (
        receiver.url, event.id, "payment_intent.succeeded", 200, 1)  # fmt: skip


def test_refund_sends_refund_and_charge_events(
    server: StripeTestServer, receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.secret = server.add_webhook_endpoint(receiver.url, secret="whsec_fixed")
    pi = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    refund = client.v1.refunds.create({"payment_intent": pi.id})
    created = receiver.event("refund.created").verified
    refunded = receiver.event("charge.refunded").verified
    assert created.data.object["id"] == refund.id
    assert refunded.data.object["refunded"] is True
    assert refunded.data.previous_attributes["refunded"] is False
    assert created.request.id == refunded.request.id == refund.last_response.request_id
    types = {json.loads(r.body)["type"] for r in receiver.got}
    assert {"payment_intent.created", "charge.succeeded", "payment_intent.succeeded"} <= types


def test_thin_event_for_v2_meter_event(
    server: StripeTestServer, receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.thin = True
    receiver.secret = server.add_webhook_endpoint(receiver.url, thin=True)
    meter_event = client.v2.billing.meter_events.create(
        {"event_name": "no_such_meter", "payload": {"stripe_customer_id": "cus_1", "value": "1"}},
        {"idempotency_key": "meter-1"},
    )
    [rec] = receiver.wait(1)
    note = rec.verified
    assert isinstance(note, stripe.events.V1BillingMeterNoMeterFoundEventNotification), note
    assert note.reason is not None
    assert note.reason.request.id == meter_event.last_response.request_id
    assert note.reason.request.idempotency_key == "meter-1"
    body = json.loads(rec.body)
    assert body["object"] == "v2.core.event" and body["livemode"] is False
    assert "data" not in body  # thin: the receiver fetches the event for details
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["created"])


def test_retries_until_2xx(server: StripeTestServer, receiver: Receiver,
                           client: stripe.StripeClient) -> None:  # fmt: skip
    receiver.secret = server.add_webhook_endpoint(receiver.url, events=["customer.created"])
    receiver.statuses = [500, 500]
    client.v1.customers.create({"email": "a@example.com"})
    attempts = server.wait_for_deliveries(3)
    assert [(d.status, d.attempt) for d in attempts] == [(500, 1), (500, 2), (200, 3)]
    assert len({d.event_id for d in attempts}) == 1
    assert attempts[1].sent_at - attempts[0].sent_at >= 0.19  # default backoff 0.2 s
    assert attempts[2].sent_at - attempts[1].sent_at >= 0.39  # then doubled
    assert len(receiver.wait(3)) == 3


def test_connection_errors_are_retried_and_recorded(
    server: StripeTestServer, receiver: Receiver, client: stripe.StripeClient
) -> None:
    dead = receiver.url.rsplit(":", 1)[0] + ":1/hooks"  # nothing listens on port 1
    server.add_webhook_endpoint(dead, events=["customer.created"], retry_backoff=0.01)
    client.v1.customers.create()
    attempts = server.wait_for_deliveries(3)
    assert [(d.status, d.attempt) for d in attempts] == [(None, 1), (None, 2), (None, 3)]
    assert all(d.error and "ConnectionRefused" in d.error for d in attempts)


def test_api_call_is_not_delayed_by_delivery(
    server: StripeTestServer, receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.secret = server.add_webhook_endpoint(receiver.url)
    receiver.sleep = 1.0
    pi = client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    start = time.perf_counter()
    client.v1.payment_intents.confirm(pi.id, {"payment_method": "pm_card_visa"})
    answered_at = time.time()
    assert time.perf_counter() - start < 0.5
    succeeded = next(
        d for d in server.wait_for_deliveries(3) if d.event_type == "payment_intent.succeeded"
    )
    assert succeeded.duration_ms >= 900
    assert answered_at < succeeded.sent_at + succeeded.duration_ms / 1000


def test_send_webhook_bad_signature_and_stale_timestamp_are_rejected(
    server: StripeTestServer, receiver: Receiver
) -> None:
    receiver.secret = "whsec_test"
    event = {"id": "evt_1", "object": "event", "type": "customer.created",
             "data": {"object": {"id": "cus_1", "object": "customer"}}}  # fmt: skip
    assert server.send_webhook(receiver.url, event, "whsec_test") == 200
    assert server.send_webhook(receiver.url, event, "whsec_test", signature="00" * 32) == 400
    stale = int(time.time()) - 600  # the SDK's default tolerance is 300 s
    assert server.send_webhook(receiver.url, event, "whsec_test", timestamp=stale) == 400
    assert server.send_webhook(receiver.url, b"{}", "whsec_other") == 400
    ok, bad_sig, old, wrong_secret = receiver.wait(4)
    assert isinstance(ok.verified, stripe.Event) and ok.verified.id == "evt_1"
    for rec in (bad_sig, old, wrong_secret):
        assert isinstance(rec.verified, stripe.SignatureVerificationError)
    assert "tolerance" in str(old.verified)
    assert server.webhook_deliveries == []  # hand-made sends are not recorded


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/hooks", "http://example.com/hooks", "https://127.0.0.1/hooks", "x"],
)
def test_non_loopback_endpoint_refused(server: StripeTestServer, url: str) -> None:
    with pytest.raises(ValueError, match="webhook endpoints must"):
        server.add_webhook_endpoint(url)
    with pytest.raises(ValueError, match="webhook endpoints must"):
        server.send_webhook(url, b"{}", "whsec_x")


def test_loopback_forms_accepted_and_reset_clears_endpoints(
    server: StripeTestServer, client: stripe.StripeClient
) -> None:
    for url in ("http://localhost:9/a", "http://127.1.2.3:9/b", "http://[::1]:9/c"):
        server.add_webhook_endpoint(url, events=["customer.created"], delivery_delay_ms=60_000)
    assert client.v1.customers.create().id
    [event] = client.v1.events.list({"type": "customer.created"}).data
    assert event.pending_webhooks == 3
    server.reset()
    client.v1.customers.create()
    [event] = client.v1.events.list({"type": "customer.created"}).data
    assert event.pending_webhooks == 0
    assert server.webhook_deliveries == []
