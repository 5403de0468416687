"""stripe-otel: OpenTelemetry instrumentation for the Stripe Python SDK.

Three ways to turn it on:

* ``opentelemetry-instrument python app.py`` (entry point ``stripe``),
* ``import stripe_otel.auto`` (before or after ``import stripe``),
* ``StripeInstrumentor().instrument(tracer_provider=..., meter_provider=...)``.

Importing this package does not import ``stripe``.
"""

from stripe_otel._guard import internal_error_counts
from stripe_otel._transaction import db_write, transaction
from stripe_otel.config import ConfigError
from stripe_otel.instrumentor import StripeInstrumentor
from stripe_otel.version import __version__

__all__ = [
    "ConfigError",
    "StripeInstrumentor",
    "__version__",
    "db_write",
    "internal_error_counts",
    "transaction",
]
