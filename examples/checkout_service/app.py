"""A small Flask checkout service, traced end to end by ``opentelemetry-instrument``.

``POST /checkout`` charges a card inside ``stripe_otel.transaction("checkout")`` and writes
the order to SQLite; ``POST /webhooks/stripe`` verifies Stripe's event and marks the order
paid. The app has no tracing code apart from naming the business transaction: the
``opentelemetry-instrument`` entry points instrument Flask, sqlite3 and stripe (stripe-otel).

    opentelemetry-instrument python examples/checkout_service/app.py

Configuration (environment): STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET (required),
STRIPE_API_BASE (e.g. the stripe_otel.testing server; default: Stripe), ORDERS_DB
(default ``orders.db``), PORT (default 8000).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import uuid
from contextlib import closing
from typing import Any

import stripe
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

import stripe_otel

app = Flask(__name__)


def _db() -> sqlite3.Connection:
    # One connection per request: sqlite3 connections must stay on the thread that made
    # them, and the server handles each request on its own thread.
    return sqlite3.connect(app.config["ORDERS_DB"])


def _write(sql: str, params: tuple[Any, ...]) -> int:
    """Run one write through a cursor and commit; returns the rows changed.

    Through a cursor, not ``Connection.execute``: the OpenTelemetry sqlite3
    instrumentation traces cursors only, and its span is what stripe-otel counts as the
    transaction's db_write time.
    """
    with closing(_db()) as connection:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        connection.commit()
        return cursor.rowcount


def init_db() -> None:
    with closing(_db()) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS orders ("
            " id TEXT PRIMARY KEY, amount INTEGER NOT NULL, currency TEXT NOT NULL,"
            " intent_id TEXT, status TEXT NOT NULL, decline_code TEXT,"
            " paid INTEGER NOT NULL DEFAULT 0)"
        )
        connection.commit()


@app.post("/checkout")
def checkout() -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    amount, currency = body.get("amount"), body.get("currency")
    payment_method = body.get("payment_method")
    if not (type(amount) is int and amount > 0 and isinstance(currency, str)):  # no bools
        return jsonify(error="amount (a positive integer) and currency are required"), 400
    if not isinstance(payment_method, str):
        return jsonify(error="payment_method is required"), 400

    with stripe_otel.transaction("checkout"):
        order_id = uuid.uuid4().hex
        # The order is written before Stripe is called: Stripe may deliver the webhook
        # before this request finishes, and the handler must find the order to mark it.
        _write(
            "INSERT INTO orders (id, amount, currency, status) VALUES (?, ?, ?, 'pending')",
            (order_id, amount, currency.lower()),
        )
        try:
            # confirm=True creates and confirms in one request. Creating, then calling
            # confirm, costs a second round trip to Stripe (network + Stripe's processing
            # again) for nothing when the server already holds the payment method; the
            # two-step form is for confirming on the client (Payment Element, 3DS).
            intent = stripe.PaymentIntent.create(
                amount=amount,
                currency=currency,
                payment_method=payment_method,
                # Confirmed on the server, there is nowhere to redirect the customer to:
                # allow only payment methods that need no redirect (or pass a return_url).
                automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
                confirm=True,
                metadata={"order_id": order_id},  # how the webhook finds the order
                # A retry of this request (the SDK retries network errors) can't charge
                # twice: Stripe replays the first answer for the same key.
                idempotency_key=f"checkout-{order_id}",
            )
        except stripe.CardError as error:
            details = error.error  # Stripe's error object: decline code, the intent
            decline_code = details.decline_code if details else None
            intent_id = details.payment_intent.id if details and details.payment_intent else None
            _write(
                "UPDATE orders SET status = 'declined', decline_code = ?, intent_id = ?"
                " WHERE id = ?",
                (decline_code or error.code, intent_id, order_id),
            )
            return jsonify(order_id=order_id, error=error.code, decline_code=decline_code), 402
        # `status` is what the API answered; `paid` is only ever set by the webhook, so
        # the two writes can arrive in either order without one undoing the other.
        _write(
            "UPDATE orders SET intent_id = ?, status = ? WHERE id = ?",
            (intent.id, intent.status, order_id),
        )
    return jsonify(order_id=order_id, intent_id=intent.id, status=intent.status), 200


@app.post("/webhooks/stripe")
def stripe_webhook() -> tuple[Response, int]:
    try:
        # Verify the signature on the raw body, before trusting anything in it.
        event = stripe.Webhook.construct_event(
            request.get_data(),
            request.headers.get("Stripe-Signature", ""),
            app.config["STRIPE_WEBHOOK_SECRET"],
        )
    except (ValueError, stripe.SignatureVerificationError):
        return jsonify(error="invalid payload or signature"), 400
    if event.type == "payment_intent.succeeded":
        intent = event.data.object
        # StripeObject is not a dict (no .get) since stripe 15; `in` and [] work.
        if "order_id" in intent.metadata:
            _write(
                "UPDATE orders SET paid = 1, intent_id = ? WHERE id = ?",
                (intent.id, intent.metadata["order_id"]),
            )
    # 200 for event types we ignore too: anything else makes Stripe retry them.
    return jsonify(received=True), 200


def main() -> None:
    stripe.api_key = os.environ["STRIPE_API_KEY"]
    if base := os.environ.get("STRIPE_API_BASE"):
        stripe.api_base = base
    app.config["STRIPE_WEBHOOK_SECRET"] = os.environ["STRIPE_WEBHOOK_SECRET"]
    app.config["ORDERS_DB"] = os.environ.get("ORDERS_DB", "orders.db")
    init_db()
    # Stop on SIGTERM (docker stop, systemd) the way Ctrl-C stops: KeyboardInterrupt, then
    # a normal interpreter exit, whose atexit hook flushes the batch span processor.
    # Killed by the default SIGTERM handler, the last spans would be lost. SIGINT is set
    # too because a shell starts background jobs with SIGINT ignored, and Python then
    # keeps it ignored.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.default_int_handler)
    # Loopback only: this is an example, not a hardened server.
    server = make_server("127.0.0.1", int(os.environ.get("PORT", "8000")), app, threaded=True)
    print(f"listening on http://127.0.0.1:{server.server_port}/", flush=True)
    server.serve_forever()  # returns on KeyboardInterrupt: werkzeug catches it and closes


if __name__ == "__main__":
    main()
