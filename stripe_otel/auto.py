"""``import stripe_otel.auto``: instrument stripe with the global tracer and meter providers.

Import it before or after ``import stripe``; the patches go in when stripe is imported.
Settings come from the ``STRIPE_OTEL_*`` environment variables and are checked now, so a
bad value fails here, at start-up, naming the variable.

This installs directly, without ``opentelemetry.instrumentation``'s ``BaseInstrumentor``
(and so without its package-version check, which costs more start-up time than all of
stripe-otel): ``StripeInstrumentor`` sees the result and can ``uninstrument()`` it.
"""

from stripe_otel import _install

_install.install()  # a no-op if StripeInstrumentor got there first
