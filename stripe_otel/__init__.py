"""stripe-otel: OpenTelemetry instrumentation for the Stripe Python SDK.

Three ways to turn it on:

* ``opentelemetry-instrument python app.py`` (entry point ``stripe``),
* ``import stripe_otel.auto`` (before or after ``import stripe``),
* ``StripeInstrumentor().instrument(tracer_provider=..., meter_provider=...)``.

Importing this package does not import ``stripe``. Its names are loaded on first use,
so that ``import stripe_otel.auto`` does not pay for ``opentelemetry.instrumentation``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stripe_otel.version import __version__

if TYPE_CHECKING:
    from stripe_otel._guard import internal_error_counts
    from stripe_otel._transaction import db_write, transaction
    from stripe_otel.config import ConfigError
    from stripe_otel.instrumentor import StripeInstrumentor

__all__ = [
    "ConfigError",
    "StripeInstrumentor",
    "__version__",
    "db_write",
    "internal_error_counts",
    "transaction",
]

_LAZY = {
    "ConfigError": "stripe_otel.config",
    "StripeInstrumentor": "stripe_otel.instrumentor",
    "db_write": "stripe_otel._transaction",
    "internal_error_counts": "stripe_otel._guard",
    "transaction": "stripe_otel._transaction",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stripe_otel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
