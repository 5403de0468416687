"""An app on ddtrace's OpenTelemetry bridge (run with DD_TRACE_OTEL_ENABLED=true): ddtrace's
TracerProvider is the global one, stripe_otel.auto instruments stripe with it. One call
retried once (the test injects a 500), then a card decline; flush and exit."""

import json
import os

import ddtrace.auto  # first: installs ddtrace's OTel TracerProvider
import stripe
from opentelemetry import trace
from stripe._http_client import HTTPClient

import stripe_otel.auto  # noqa: F401

stripe.api_key = "sk_test_51DdtraceBridgeKey0000000000000000000000000000000"
stripe.api_base = os.environ["STRIPE_TEST_BASE"]
# The SDK sleeps 0.5-5 s between retries; one short sleep is enough here.
HTTPClient.INITIAL_DELAY = 0.01
HTTPClient.MAX_DELAY = 0.02

print("PROVIDER", type(trace.get_tracer_provider()).__module__, flush=True)
customer = stripe.Customer.create(description="through ddtrace's bridge")
print("CUSTOMER", customer.id, flush=True)
try:
    stripe.PaymentIntent.create(
        amount=2000, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True
    )
except stripe.CardError as exc:
    # Stripe's own message (it can quote input): the test checks no span carries it.
    print("DECLINED", json.dumps({"code": exc.code, "message": exc.user_message}), flush=True)
else:
    raise SystemExit("the decline was not raised")

ddtrace.tracer.flush()
ddtrace.tracer.shutdown()
