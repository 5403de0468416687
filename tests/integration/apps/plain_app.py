"""An app that knows nothing of OpenTelemetry: run under `opentelemetry-instrument`."""

import os

import stripe

stripe.api_key = "sk_test_51SubprocessKey000000000000000000000000000000"
stripe.api_base = os.environ["STRIPE_TEST_BASE"]
customer = stripe.Customer.create(description="from a plain app")
print("CUSTOMER", customer.id)
