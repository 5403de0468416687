"""A webhook endpoint that verifies Stripe's event and hands the work to a background worker,
with the trace continued across the hand-off.

The endpoint answers Stripe quickly (as it should: Stripe retries slow endpoints) and puts a
job on a queue; the worker fulfils the order later. The job carries the W3C trace context
of the request (``opentelemetry.propagate.inject``), so the worker's span joins the trace of
the webhook delivery: request → stripe.webhook (verify, decode) and → fulfil order → the
Stripe calls it makes; the webhook span also links back to the API call that caused the
event. With a real queue (Celery, RQ, SQS) carry the
same ``carrier`` dict in the message headers.

Run it (the Stripe test server stands in for Stripe):

    python examples/webhook_worker.py --stripe-base http://127.0.0.1:12111 --port 8787

with ``STRIPE_WEBHOOK_SECRET`` set to the endpoint's secret.
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe
from opentelemetry import propagate, trace

import stripe_otel.auto  # noqa: F401 - instruments stripe (and its webhooks)

tracer = trace.get_tracer("examples.webhook_worker")
jobs: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1000)


def fulfil(job: dict[str, Any]) -> None:
    """The background work: continue the webhook's trace, then fetch and fulfil."""
    parent = propagate.extract(job["carrier"])
    with tracer.start_as_current_span("fulfil order", context=parent) as span:
        span.set_attribute("app.order.intent", job["intent"])  # the app's own attribute
        intent = stripe.PaymentIntent.retrieve(job["intent"])
        span.set_attribute("app.order.amount", intent.amount)


def worker() -> None:
    while (job := jobs.get()) is not None:
        try:
            fulfil(job)
        finally:
            jobs.task_done()


class WebhookHandler(BaseHTTPRequestHandler):
    secret = ""

    def do_POST(self) -> None:
        # A web framework's instrumentation (FastAPI, Flask, Django) makes this SERVER span
        # for you; a bare http.server needs it by hand. stripe-otel's webhook span is its
        # child, and the job below carries its context.
        with tracer.start_as_current_span("POST /webhooks/stripe", kind=trace.SpanKind.SERVER):
            self.send_response(self._handle())
            self.end_headers()

    def _handle(self) -> int:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = stripe.Webhook.construct_event(
                body, self.headers.get("Stripe-Signature"), self.secret
            )
        except (ValueError, stripe.SignatureVerificationError):
            return 400
        if event.type == "payment_intent.succeeded":
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # the request's trace context
            jobs.put({"intent": event.data.object.id, "carrier": carrier})
        return 200

    def log_message(self, *args: Any) -> None:  # quiet
        pass


def serve(port: int, secret: str) -> ThreadingHTTPServer:
    WebhookHandler.secret = secret
    server = ThreadingHTTPServer(("127.0.0.1", port), WebhookHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=worker, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stripe-base", default=os.environ.get("STRIPE_API_BASE"))
    parser.add_argument("--port", type=int, default=8787)
    args = parser.parse_args()
    stripe.api_key = os.environ.get("STRIPE_API_KEY", "sk_test_example")
    if args.stripe_base:
        stripe.api_base = args.stripe_base
    server = serve(args.port, os.environ["STRIPE_WEBHOOK_SECRET"])
    print(f"listening on http://127.0.0.1:{server.server_port}/")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
