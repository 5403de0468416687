"""``StripeInstrumentor``: installs and removes stripe-otel's patches, nothing else.

Patching is lazy: ``instrument()`` registers a post-import hook, so the patches go in when
``stripe`` is imported (at once, if it already is). Nothing here imports stripe, which
keeps ``import stripe_otel.auto`` cheap and lets it come before or after ``import stripe``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from wrapt.importer import when_imported

from stripe_otel import _db_spans, _guard, _metrics, _rtt, _runtime, _shutdown, semconv
from stripe_otel._patches import (
    dns,
    httpx_transport,
    requestor,
    retry_loop,
    urllib3_transport,
    urllib_transport,
    webhooks,
)
from stripe_otel._patching import Patch
from stripe_otel.config import Settings
from stripe_otel.package import _instruments
from stripe_otel.version import __version__

__all__ = ["StripeInstrumentor"]

_OTEL_KWARGS = frozenset(
    {"tracer_provider", "meter_provider", "logger_provider", "event_logger_provider"}
)


def _wants_datadog_names(settings: Settings, kwargs: dict[str, Any]) -> bool:
    if settings.datadog_names != "auto":
        return settings.datadog_names == "true"
    provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
    # ddtrace's OTel bridge installs its own TracerProvider (DD_TRACE_OTEL_ENABLED=true);
    # the Agent's OTLP intake maps operation.name/resource.name when they are present.
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "")
    return type(provider).__module__.startswith("ddtrace") or "datadog_otlp" in exporters


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
        # Everything but OpenTelemetry's own provider arguments is a setting, so a misspelt
        # one raises ConfigError instead of being ignored.
        settings = Settings.resolve(**{k: v for k, v in kwargs.items() if k not in _OTEL_KWARGS})
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
        instruments = _metrics.create(meter) if settings.metrics else None
        if settings.phases:
            # DB instrumentation spans count as db_write inside a transaction; needs an SDK
            # provider (a proxy one is handled by transaction() on first use).
            _db_spans.install(kwargs.get("tracer_provider") or trace.get_tracer_provider())
        with self._lock:
            StripeInstrumentor._generation += 1
            generation = StripeInstrumentor._generation
            _runtime.current = _runtime.Runtime(
                tracer, settings, instruments, _wants_datadog_names(settings, kwargs)
            )

        # Each group of patches goes in when its module is imported (at once if it is).
        groups: dict[str, list[Patch]] = {
            "stripe": [*requestor.patches(), *retry_loop.patches(), *webhooks.patches()],
        }
        if settings.phases:
            groups["httpx"] = httpx_transport.patches()
            groups["urllib3"] = urllib3_transport.patches()
            groups["http.client"] = urllib_transport.patches()
            groups["socket"] = dns.patches()
        for module, patches in groups.items():
            when_imported(module)(self._applier(generation, patches))
        if settings.flush_on_sigterm:  # SIGTERM's default disposition skips atexit flushes
            _shutdown.install(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))

    def _applier(self, generation: int, patches: list[Patch]) -> Any:
        def apply(_module: object) -> None:
            with self._lock:
                if generation != StripeInstrumentor._generation:
                    return  # uninstrumented (or re-instrumented) since this was registered
                for patch in patches:
                    if patch.apply():
                        self._patches.append(patch)

        return apply

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            StripeInstrumentor._generation += 1
            _runtime.current = None
            while self._patches:
                self._patches.pop().remove()
        _rtt.forget()
        _shutdown.uninstall()
