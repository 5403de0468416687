"""``StripeInstrumentor``: installs and removes stripe-otel's patches, nothing else.

Patching is lazy: ``instrument()`` registers a post-import hook, so the patches go in when
``stripe`` is imported (at once, if it already is). Nothing here imports stripe, which
keeps ``import stripe_otel.auto`` cheap and lets it come before or after ``import stripe``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from wrapt.importer import when_imported

from stripe_otel import _guard, _runtime, semconv
from stripe_otel._patches import requestor, retry_loop
from stripe_otel._patching import Patch
from stripe_otel.config import KNOBS, Settings
from stripe_otel.package import _instruments
from stripe_otel.version import __version__

__all__ = ["StripeInstrumentor"]

_KNOB_NAMES = frozenset(knob.name for knob in KNOBS)


class StripeInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry instrumentor for the ``stripe`` SDK.

    ``StripeInstrumentor().instrument(tracer_provider=..., meter_provider=..., **settings)``
    where *settings* are any of the keyword names in :data:`stripe_otel.config.KNOBS`
    (each also settable by its ``STRIPE_OTEL_*`` env var). A bad value raises
    :class:`stripe_otel.config.ConfigError` here, never later inside a call.
    """

    _lock = threading.Lock()
    _patches: list[Patch] = []  # noqa: RUF012 - class-level: BaseInstrumentor is a singleton
    _generation = 0

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        settings = Settings.resolve(**{k: v for k, v in kwargs.items() if k in _KNOB_NAMES})
        if not settings.enabled:
            return
        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_NAME,
            __version__,
            tracer_provider=kwargs.get("tracer_provider"),
        )
        meter = metrics.get_meter(
            semconv.INSTRUMENTATION_NAME, __version__, meter_provider=kwargs.get("meter_provider")
        )
        _guard.configure(
            settings.error_log_interval,
            meter.create_counter(
                semconv.METRIC_INTERNAL_ERRORS,
                unit="{error}",
                description="Exceptions raised and swallowed inside stripe-otel's hooks.",
            ),
        )
        with self._lock:
            StripeInstrumentor._generation += 1
            generation = StripeInstrumentor._generation
            _runtime.current = _runtime.Runtime(tracer=tracer, settings=settings)

        def on_stripe_imported(_module: object) -> None:
            with self._lock:
                if generation != StripeInstrumentor._generation or self._patches:
                    return  # uninstrumented (or re-instrumented) since this was registered
                for patch in [*requestor.patches(), *retry_loop.patches()]:
                    if patch.apply():
                        self._patches.append(patch)

        when_imported("stripe")(on_stripe_imported)

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            StripeInstrumentor._generation += 1
            _runtime.current = None
            while self._patches:
                self._patches.pop().remove()
