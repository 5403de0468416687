"""Tests of stripe_otel.testing (the Stripe test server)."""
