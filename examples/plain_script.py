"""The smallest demonstration of "one import": ``import stripe_otel.auto``.

The script sets up an OpenTelemetry SDK tracer provider that prints every span as JSON
(replace the console exporter with OTLP in a real app), makes two Stripe calls and prints a
summary: each call's span name, its duration and Stripe's estimated processing time.

    STRIPE_API_KEY=sk_test_... STRIPE_API_BASE=http://127.0.0.1:12111 \\
        python examples/plain_script.py

(``python -m stripe_otel.testing --port 12111`` serves STRIPE_API_BASE; without it the
calls go to Stripe's test mode.)
"""

from __future__ import annotations

# The one line that instruments stripe, before or after `import stripe`. It traces through
# the global provider, which may be set afterwards (below): the tracer follows it.
import stripe_otel.auto  # noqa: F401 - imported for its effect

# isort: split
import os

import stripe
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stripe_otel import semconv


def setup_tracing() -> InMemorySpanExporter:
    provider = TracerProvider()
    # Simple (synchronous) processors so every span is out before the summary is printed;
    # a service would use a BatchSpanProcessor, which exports off the request path.
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    # Kept in memory as well, only to print the summary below.
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    return memory


def summary(spans: tuple[ReadableSpan, ...]) -> list[str]:
    """One line per Stripe call: the operation span and its phase totals."""
    lines = []
    for span in spans:
        attributes = span.attributes or {}
        if semconv.STRIPE_OPERATION not in attributes:
            continue  # an attempt or phase span: its times are in the operation's totals
        duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        processing = attributes.get(semconv.STRIPE_PHASE_API_PROCESSING_MS)
        network = attributes.get(semconv.STRIPE_PHASE_NETWORK_MS)
        lines.append(
            f"{span.name}  {duration_ms:.1f} ms"
            f"  (api_processing ~{processing:.1f} ms, network {network:.1f} ms)"
            if isinstance(processing, float) and isinstance(network, float)
            else f"{span.name}  {duration_ms:.1f} ms  (phases unavailable)"
        )
    return lines


def main() -> None:
    memory = setup_tracing()
    stripe.api_key = os.environ["STRIPE_API_KEY"]
    if base := os.environ.get("STRIPE_API_BASE"):
        stripe.api_base = base
    customer = stripe.Customer.create(description="stripe-otel plain script")
    intent = stripe.PaymentIntent.create(
        amount=1500,
        currency="usd",
        customer=customer.id,
        payment_method="pm_card_visa",
        automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
        confirm=True,
    )
    print(f"payment {intent.id}: {intent.status}")
    spans = memory.get_finished_spans()
    print(f"--- {len(spans)} spans; one line per Stripe call (api_processing is estimated):")
    for line in summary(spans):
        print(line)


if __name__ == "__main__":
    main()
