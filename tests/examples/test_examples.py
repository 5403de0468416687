"""The examples run as a user would run them, in a subprocess against the Stripe test server.

examples/checkout_service/app.py runs unmodified under ``opentelemetry-instrument`` with the
console exporter: Flask, sqlite3, requests and stripe are all instrumented by their entry
points, and the spans are read back from its stdout once it has exited (SIGINT: a normal
exit, which flushes the batch span processor). examples/plain_script.py shows
``import stripe_otel.auto`` alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from stripe_otel import semconv as sc
from stripe_otel.testing import StripeTestServer, WebhookDelivery
from tests.conftest import TEST_KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
APP = ROOT / "examples" / "checkout_service" / "app.py"
PLAIN_SCRIPT = ROOT / "examples" / "plain_script.py"
BIN = Path(sys.executable).parent

OTEL_ENV = {
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_SERVICE_NAME": "checkout-service",
}
CHECKOUT_OP = "POST /v1/payment_intents"
# The spans under one successful call's operation span: its attempt's phases, the attempt,
# the decode.
PHASED_CALL = [
    "stripe.network",
    "stripe.api_processing",
    "stripe.network",
    "stripe.attempt",
    "stripe.sdk_decode",
]

Span = dict[str, Any]


def _console_spans(stdout: str) -> list[Span]:
    """Parse the JSON objects the console exporter prints one after another."""
    decoder, spans, index = json.JSONDecoder(), [], 0
    while (start := stdout.find("{", index)) != -1:
        obj, index = decoder.raw_decode(stdout, start)
        spans.append(obj)
    return spans


def _ms(span: Span) -> float:
    start, end = (datetime.fromisoformat(span[key]) for key in ("start_time", "end_time"))
    return (end - start).total_seconds() * 1000


def _status_code(span: Span) -> object:
    # Old or new HTTP semantic conventions, whichever OTEL_SEMCONV_STABILITY_OPT_IN picks.
    attributes = span["attributes"]
    return attributes.get("http.response.status_code", attributes.get("http.status_code"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_line(proc: subprocess.Popen[bytes], out: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in out.read_text():
        assert proc.poll() is None, f"the app exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"no {text!r} on the app's stdout"
        time.sleep(0.05)


def _post(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@dataclass
class AppRun:
    returncode: int
    stderr: str
    spans: list[Span]
    responses: list[tuple[int, dict[str, Any]]]
    deliveries: list[WebhookDelivery]
    orders: dict[str, sqlite3.Row]

    def named(self, name: str) -> list[Span]:
        return [s for s in self.spans if s["name"] == name]

    def children(self, parent: Span, name: str | None = None) -> list[Span]:
        span_id = parent["context"]["span_id"]
        return [
            s
            for s in self.spans
            if s["parent_id"] == span_id and (name is None or s["name"] == name)
        ]

    def parent(self, span: Span) -> Span:
        [parent] = [s for s in self.spans if s["context"]["span_id"] == span["parent_id"]]
        return parent

    def checkout_op(self, *, declined: bool) -> Span:
        """The Stripe call of the paid (or the declined) checkout."""
        [op] = [
            s
            for s in self.named(CHECKOUT_OP)
            if (s["status"]["status_code"] == "ERROR") is declined
        ]
        return op


def _run_app(
    server: StripeTestServer,
    tmp: Path,
    requests: list[dict[str, Any]],
    stop: signal.Signals,
    deliveries: int,
) -> AppRun:
    port = _free_port()
    secret = server.add_webhook_endpoint(
        f"http://127.0.0.1:{port}/webhooks/stripe", events=["payment_intent.succeeded"]
    )
    db = tmp / "orders.db"
    env = {
        **os.environ,
        **OTEL_ENV,
        "PYTHONPATH": str(ROOT),
        "STRIPE_API_KEY": TEST_KEY,
        "STRIPE_API_BASE": server.url,
        "STRIPE_WEBHOOK_SECRET": secret,
        "ORDERS_DB": str(db),
        "PORT": str(port),
    }
    out, err = tmp / "stdout.txt", tmp / "stderr.txt"
    # Files, not pipes: nothing reads the app's output until it has exited.
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(BIN / "opentelemetry-instrument"), sys.executable, str(APP)],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        _wait_for_line(proc, out, f"listening on http://127.0.0.1:{port}/", timeout=20)
        responses = [_post(f"http://127.0.0.1:{port}/checkout", body) for body in requests]
        delivered = server.wait_for_deliveries(deliveries, timeout=10) if deliveries else []
        proc.send_signal(stop)
        returncode = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with closing(sqlite3.connect(db)) as connection:
        connection.row_factory = sqlite3.Row
        orders = {row["id"]: row for row in connection.execute("SELECT * FROM orders")}
    _, listening, after = out.read_text().partition(f"http://127.0.0.1:{port}/")
    assert listening, "no 'listening on' line"
    return AppRun(
        returncode=returncode,
        stderr=err.read_text(),
        spans=_console_spans(after),
        responses=responses,
        deliveries=delivered,
        orders=orders,
    )


@pytest.fixture(scope="module")
def checkout(
    _server: StripeTestServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppRun]:
    """One run of the checkout service: a payment, a decline, the payment's webhook.

    Module-scoped, so the tests below read one run (hence the session server, reset by
    hand: the ``server`` fixture is per test)."""
    _server.reset()
    try:
        yield _run_app(
            _server,
            tmp_path_factory.mktemp("checkout"),
            [
                {"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa"},
                {"amount": 3000, "currency": "usd", "payment_method": "pm_card_chargeDeclined"},
            ],
            signal.SIGINT,
            deliveries=1,
        )
    finally:
        _server.reset()  # drop the endpoint: the app is gone


def test_checkout_answers_and_orders(checkout: AppRun) -> None:
    assert checkout.returncode == 0, checkout.stderr
    (paid_status, paid), (declined_status, declined) = checkout.responses
    assert paid_status == 200, paid
    assert paid["status"] == "succeeded"
    assert paid["intent_id"].startswith("pi_")
    assert declined_status == 402, declined
    assert declined["decline_code"] == "generic_decline"
    # The webhook was verified (200, not 400) and marked the order paid.
    [delivery] = checkout.deliveries
    assert (delivery.event_type, delivery.status) == ("payment_intent.succeeded", 200)
    assert dict(checkout.orders[paid["order_id"]]) | {"id": None} == {
        "id": None,
        "amount": 2000,
        "currency": "usd",
        "intent_id": paid["intent_id"],
        "status": "succeeded",
        "decline_code": None,
        "paid": 1,
    }
    declined_order = checkout.orders[declined["order_id"]]
    assert (declined_order["status"], declined_order["paid"]) == ("declined", 0)
    assert declined_order["decline_code"] == "generic_decline"


def test_request_contains_transaction_contains_stripe_calls(checkout: AppRun) -> None:
    requests = checkout.named("POST /checkout")
    assert len(requests) == 2
    for request in requests:
        assert request["kind"] == "SpanKind.SERVER"
        [transaction] = checkout.children(request, "checkout")
        assert transaction["attributes"][sc.STRIPE_TRANSACTION] == "checkout"
        [op] = checkout.children(transaction, CHECKOUT_OP)
        assert op["kind"] == "SpanKind.CLIENT"
        assert op["attributes"][sc.STRIPE_OPERATION] == "PaymentIntent.create"
        assert op["context"]["trace_id"] == request["context"]["trace_id"]
        [attempt] = checkout.children(op, sc.SPAN_ATTEMPT)
        assert [s["name"] for s in checkout.children(attempt)] == PHASED_CALL[:3]


def test_transaction_totals_include_the_sqlite_writes(checkout: AppRun) -> None:
    for request in checkout.named("POST /checkout"):
        [transaction] = checkout.children(request, "checkout")
        attributes = transaction["attributes"]
        assert attributes[sc.STRIPE_TRANSACTION_OPERATIONS] == 1
        assert attributes[sc.STRIPE_PHASE_NETWORK_MS] > 0
        assert attributes[sc.STRIPE_PHASE_API_PROCESSING_MS] >= 0  # an estimate, clamped
        assert attributes[sc.STRIPE_PHASE_SDK_DECODE_MS] > 0
        assert attributes[sc.STRIPE_PHASE_APP_MS] >= 0
        # The INSERT and the UPDATE, traced by the sqlite3 instrumentation (through a
        # cursor) and counted by stripe-otel without a line of DB tracing in the app.
        writes = [s for s in checkout.children(transaction) if s["name"] in ("INSERT", "UPDATE")]
        assert [s["name"] for s in writes] == ["INSERT", "UPDATE"]
        assert all(s["attributes"][sc.STRIPE_PHASE] == sc.PHASE_DB_WRITE for s in writes)
        assert attributes[sc.STRIPE_PHASE_DB_WRITE_MS] > 0
        # The console prints µs timestamps: a few µs of rounding per span.
        assert attributes[sc.STRIPE_PHASE_DB_WRITE_MS] == pytest.approx(
            sum(_ms(s) for s in writes), abs=0.01
        )


def test_decline_code_is_on_the_operation_span(checkout: AppRun) -> None:
    op = checkout.checkout_op(declined=True)
    assert op["attributes"][sc.HTTP_RESPONSE_STATUS_CODE] == 402
    assert op["attributes"][sc.STRIPE_ERROR_CODE] == "card_declined"
    assert op["attributes"][sc.STRIPE_ERROR_DECLINE_CODE] == "generic_decline"
    # ... and it is the call of the request that answered 402.
    assert _status_code(checkout.parent(checkout.parent(op))) == 402
    paid = checkout.checkout_op(declined=False)
    assert sc.STRIPE_ERROR_DECLINE_CODE not in paid["attributes"]
    assert _status_code(checkout.parent(checkout.parent(paid))) == 200


def test_webhook_span_is_under_the_request_and_links_to_the_payment(checkout: AppRun) -> None:
    [request] = checkout.named("POST /webhooks/stripe")
    assert request["kind"] == "SpanKind.SERVER"
    assert _status_code(request) == 200
    [hook] = checkout.children(request, sc.SPAN_WEBHOOK)
    attributes = hook["attributes"]
    assert attributes[sc.STRIPE_WEBHOOK_SIGNATURE_VALID] is True
    assert attributes[sc.STRIPE_EVENT_TYPE] == "payment_intent.succeeded"
    assert [s["name"] for s in checkout.children(hook)] == [
        sc.SPAN_WEBHOOK_VERIFY,
        sc.SPAN_WEBHOOK_DECODE,
    ]
    # The payment was made by this process, so the link points at its span, in the
    # checkout request's trace; the request id joins them too.
    op = checkout.checkout_op(declined=False)
    assert op["attributes"][sc.STRIPE_OBJECT_ID] == checkout.responses[0][1]["intent_id"]
    [link] = hook["links"]
    assert link["context"]["span_id"] == op["context"]["span_id"]
    assert link["context"]["trace_id"] == op["context"]["trace_id"] != hook["context"]["trace_id"]
    assert link["attributes"][sc.STRIPE_LINK_SOURCE] == "in_process"
    assert attributes[sc.STRIPE_REQUEST_ID] == op["attributes"][sc.STRIPE_REQUEST_ID]


def test_one_client_span_per_stripe_call(checkout: AppRun) -> None:
    clients = [s for s in checkout.spans if s["kind"] == "SpanKind.CLIENT"]
    stripe_calls = [s for s in clients if sc.STRIPE_OPERATION in s["attributes"]]
    db_calls = [s for s in clients if s["attributes"].get("db.system") == "sqlite"]
    # Two checkouts, one Stripe call each (confirm=True); the webhook handler calls none.
    assert [s["name"] for s in stripe_calls] == [CHECKOUT_OP] * 2
    # The calls went out through requests, whose own instrumentation is active in the app:
    # suppressed under our span, so there is no second CLIENT span per call.
    assert {s["attributes"][sc.STRIPE_HTTP_CLIENT] for s in stripe_calls} == {"requests"}
    assert len(clients) == len(stripe_calls) + len(db_calls), [s["name"] for s in clients]


def test_sigterm_also_flushes_the_spans(server: StripeTestServer, tmp_path: Path) -> None:
    run = _run_app(
        server,
        tmp_path,
        [{"amount": 500, "currency": "usd", "payment_method": "pm_card_visa"}],
        signal.SIGTERM,
        deliveries=0,
    )
    assert run.returncode == 0, run.stderr
    assert run.responses[0][0] == 200
    # Killed by the default SIGTERM handler, the batch processor would print nothing.
    assert [s["name"] for s in run.named("POST /checkout")] == ["POST /checkout"]
    assert len(run.named(CHECKOUT_OP)) == 1


def test_plain_script(server: StripeTestServer) -> None:
    env = {**os.environ, "STRIPE_API_KEY": TEST_KEY, "STRIPE_API_BASE": server.url}
    proc = subprocess.run(
        [sys.executable, str(PLAIN_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    console, _, summary = proc.stdout.partition("payment pi_")
    names = [s["name"] for s in _console_spans(console)]
    assert sorted(names) == sorted(
        [*PHASED_CALL, "POST /v1/customers", *PHASED_CALL, CHECKOUT_OP]
    ), names
    assert summary.split("\n", 1)[0].endswith(": succeeded")
    lines = summary.splitlines()[2:]
    assert [line.split("  ", 1)[0] for line in lines] == ["POST /v1/customers", CHECKOUT_OP]
    assert all("api_processing ~" in line for line in lines), lines
    # The calls reached the server: the script is not reporting spans of nothing.
    assert [r.path for r in server.requests] == ["/v1/customers", "/v1/payment_intents"]
