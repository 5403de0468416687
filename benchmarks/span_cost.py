"""What one OpenTelemetry SDK span costs here, the unit our per-call overhead is made of.

.venv/bin/python -m benchmarks.span_cost
"""

from __future__ import annotations

import timeit

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

ATTRIBUTES = {f"stripe.a{i}": "value" for i in range(12)}
N = 20_000


def main() -> None:
    tracer = TracerProvider().get_tracer("bench")  # no processor: the span itself only

    def plain() -> None:
        tracer.start_span("GET /v1/customers/{customer}", kind=SpanKind.CLIENT).end()

    def with_attributes() -> None:
        tracer.start_span("GET /v1/customers/{customer}", attributes=ATTRIBUTES).end()

    for name, work in (("start + end", plain), ("start + end, 12 attributes", with_attributes)):
        best = min(timeit.repeat(work, number=N, repeat=5)) / N * 1e6
        print(f"{name}: {best:.1f} µs")


if __name__ == "__main__":
    main()
