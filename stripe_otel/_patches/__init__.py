"""One module per thing patched. A patch gathers facts and hands them on; the span work
lives in :mod:`stripe_otel._operation` and :mod:`stripe_otel._attempts`."""
