"""``import stripe_otel.auto``: instrument stripe with the global tracer and meter providers.

Import it before or after ``import stripe``; the patches go in when stripe is imported.
Settings come from the ``STRIPE_OTEL_*`` environment variables and are checked now, so a
bad value fails here, at start-up, naming the variable.
"""

from stripe_otel.config import Settings
from stripe_otel.instrumentor import StripeInstrumentor

Settings.resolve()
if not StripeInstrumentor().is_instrumented_by_opentelemetry:
    StripeInstrumentor().instrument()
