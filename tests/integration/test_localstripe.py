"""A stateful flow (create → confirm → refund) against localstripe, a second Stripe stand-in
written by someone else: our spans must not depend on quirks of our own test server.
localstripe sends no Request-Id or Stripe-Version, so those attributes must simply be absent."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from stripe_otel import semconv as sc
from tests.conftest import TEST_KEY, Telemetry

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def localstripe_url() -> Iterator[str]:
    port = _free_port()
    # Its CLI binds every interface; run its app on loopback only.
    code = (
        "from aiohttp import web; from localstripe.server import app; "
        f"web.run_app(app, host='127.0.0.1', port={port}, print=None)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"localstripe did not start: {proc.stderr.read()!r}") from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def localstripe(localstripe_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # It slows down as its store grows: flush it for every test.
    request = urllib.request.Request(f"{localstripe_url}/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=5).close()
    monkeypatch.setattr(stripe, "api_key", TEST_KEY)
    monkeypatch.setattr(stripe, "api_base", localstripe_url)
    monkeypatch.setattr(stripe, "default_http_client", None)
    return localstripe_url


def test_create_confirm_refund(instrument: Telemetry, localstripe: str) -> None:
    customer = stripe.Customer.create(email="flow@example.com")
    pm = stripe.PaymentMethod.create(
        type="card",
        card={"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    )
    pi = stripe.PaymentIntent.create(
        amount=1500, currency="eur", customer=customer.id, payment_method=pm.id
    )
    pi.confirm()
    refund = stripe.Refund.create(payment_intent=pi.id)
    assert refund.status == "succeeded"

    ops = instrument.operations()
    assert [op.attributes[sc.STRIPE_OPERATION] for op in ops] == [
        "Customer.create",
        "PaymentMethod.create",
        "PaymentIntent.create",
        "PaymentIntent.confirm",
        "Refund.create",
    ]
    assert [op.attributes[sc.STRIPE_OBJECT_ID] for op in ops] == [
        customer.id,
        pm.id,
        pi.id,
        pi.id,
        refund.id,
    ]
    for op in ops:
        assert op.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 200
        assert sc.STRIPE_REQUEST_ID not in op.attributes
        assert sc.STRIPE_API_VERSION not in op.attributes
        assert len(instrument.attempts(op)) == 1
    assert "flow@example.com" not in str([dict(op.attributes) for op in ops])


def test_localstripe_card_error(instrument: Telemetry, localstripe: str) -> None:
    # localstripe declines attaching Stripe's decline test card to a customer.
    customer = stripe.Customer.create()
    pm = stripe.PaymentMethod.create(
        type="card",
        card={"number": "4000000000000002", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    )
    with pytest.raises(stripe.CardError):
        stripe.PaymentMethod.attach(pm.id, customer=customer.id)
    op: Any = instrument.operations()[-1]
    assert op.name == "POST /v1/payment_methods/{payment_method}/attach"
    assert op.attributes[sc.STRIPE_OPERATION] == "PaymentMethod.attach"
    assert op.attributes[sc.ERROR_TYPE] == "stripe.CardError"
    assert op.attributes[sc.STRIPE_ERROR_CODE] == "card_declined"
    assert op.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 402
