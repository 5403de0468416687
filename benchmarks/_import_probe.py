"""One fresh interpreter's start-up, for import_time.py: prints JSON timings in ms.

    python -m benchmarks._import_probe URL (bare|auto)

The app's OpenTelemetry SDK is set up first, untimed (an instrumented app has one anyway);
then ``import stripe``, ``import stripe_otel.auto`` (auto only), and the first call.
"""

from __future__ import annotations

import json
import sys
import time

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class _Discard(SpanExporter):
    # Not benchmarks._common's: that imports the metrics SDK, which would then not count.
    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def main() -> None:
    url, variant = sys.argv[1], sys.argv[2]
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Discard()))
    trace.set_tracer_provider(provider)

    start = time.perf_counter()
    import stripe

    imported = time.perf_counter()
    if variant == "auto":
        import stripe_otel.auto  # noqa: F401
    instrumented = time.perf_counter()
    client = stripe.StripeClient("sk_test_benchmark", base_addresses={"api": url})
    client.v1.customers.list()
    called = time.perf_counter()
    print(
        json.dumps(
            {
                "import_stripe_ms": (imported - start) * 1e3,
                "import_auto_ms": (instrumented - imported) * 1e3,
                "first_call_ms": (called - instrumented) * 1e3,
            }
        )
    )


if __name__ == "__main__":
    main()
