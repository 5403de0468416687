"""What stripe-otel instruments, for ``BaseInstrumentor.instrumentation_dependencies``.

``opentelemetry-instrument`` skips the instrumentor cleanly when these are absent.
httpx is optional (stripe's async default, and sync with ``allow_sync_methods``), so it is
not listed: its absence must not disable the stripe instrumentation.
"""

_instruments = ("stripe >= 12.0",)
