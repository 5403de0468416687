"""Metrics: operation and phase duration histograms, retry and error counters.

Attributes are low-cardinality by construction (templates, methods, status codes, enums),
following the OpenTelemetry HTTP client conventions where they fit: durations in seconds,
explicit buckets from 1 ms to 30 s.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from opentelemetry.metrics import Counter, Histogram, Meter

from stripe_otel import semconv

# 1 ms to 30 s: a cached retrieve on a warm connection to a 3-retry timeout.
BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 30.0,
)  # fmt: skip


class Instruments(NamedTuple):
    operation_duration: Histogram
    phase_duration: Histogram
    retries: Counter
    errors: Counter


def create(meter: Meter) -> Instruments:
    return Instruments(
        operation_duration=meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit="s",
            description="Duration of Stripe API operations, retries and decoding included.",
            explicit_bucket_boundaries_advisory=BUCKETS_S,
        ),
        phase_duration=meter.create_histogram(
            semconv.METRIC_PHASE_DURATION,
            unit="s",
            description="Time per phase of Stripe operations (network, api_processing "
            "(estimated), sdk_decode), from sampled operations.",
            explicit_bucket_boundaries_advisory=BUCKETS_S,
        ),
        retries=meter.create_counter(
            semconv.METRIC_RETRIES,
            unit="{retry}",
            description="HTTP attempts after the first, made by the stripe SDK's retry loop.",
        ),
        errors=meter.create_counter(
            semconv.METRIC_ERRORS,
            unit="{error}",
            description="Stripe operations that raised, by error type and Stripe error code.",
        ),
    )


def record_operation(
    instruments: Instruments,
    base: dict[str, Any],
    duration_ns: int,
    retries: int,
    error: dict[str, Any] | None,
) -> None:
    """Record one finished operation. *base* holds template, method and status."""
    attributes = dict(base)
    if error is not None:
        attributes[semconv.ERROR_TYPE] = error[semconv.ERROR_TYPE]
    instruments.operation_duration.record(duration_ns / 1e9, attributes)
    if retries > 0:
        instruments.retries.add(retries, base)
    if error is not None:
        code = error.get(semconv.STRIPE_ERROR_CODE)
        instruments.errors.add(1, {**attributes, semconv.STRIPE_ERROR_CODE: code or "none"})


def record_phases(instruments: Instruments, base: dict[str, Any], totals: dict[str, int]) -> None:
    for phase, ns in totals.items():
        instruments.phase_duration.record(ns / 1e9, {**base, semconv.STRIPE_PHASE: phase})
