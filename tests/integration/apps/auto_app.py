"""`import stripe_otel.auto` before or after `import stripe` (argv[1]); prints span names."""

import json
import os
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

if sys.argv[1] == "before":
    import stripe_otel.auto

    assert "stripe" not in sys.modules, "stripe_otel.auto imported stripe eagerly"
    assert "httpx" not in sys.modules, "stripe_otel.auto imported httpx eagerly"

import stripe

if sys.argv[1] == "after":
    import stripe_otel.auto  # noqa: F401

stripe.api_key = "sk_test_51SubprocessKey000000000000000000000000000000"
stripe.api_base = os.environ["STRIPE_TEST_BASE"]
stripe.Customer.create(description="auto")
print(json.dumps([s.name for s in exporter.get_finished_spans()]))
