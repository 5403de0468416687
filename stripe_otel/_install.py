"""Installing and removing stripe-otel's patches: the work behind ``instrument()``.

Kept apart from :mod:`stripe_otel.instrumentor` so that ``import stripe_otel.auto`` can
install without importing ``opentelemetry.instrumentation`` (its ``BaseInstrumentor``
pulls in ``packaging`` and the semantic-convention machinery: tens of milliseconds of
start-up that an app pays on every boot). ``StripeInstrumentor`` delegates here, so both
ways in share one state: what one installs, the other can see and remove.

Patching is lazy: each group of patches goes in when its module is imported (at once if
it already is). Nothing here imports stripe.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from opentelemetry import metrics, trace
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
from stripe_otel.version import __version__

#: OpenTelemetry's own keyword arguments to ``instrument()``; every other one is a setting.
OTEL_KWARGS = frozenset(
    {"tracer_provider", "meter_provider", "logger_provider", "event_logger_provider"}
)

_lock = threading.Lock()
_patches: list[Patch] = []
# Bumped by every install and uninstall: a post-import hook registered by an earlier
# install finds the number changed and does nothing.
_generation = 0
_installed = False


def installed() -> bool:
    """Whether stripe-otel is installed (by any way in) and not since removed."""
    return _installed


def _wants_datadog_names(settings: Settings, kwargs: dict[str, Any]) -> bool:
    if settings.datadog_names != "auto":
        return settings.datadog_names == "true"
    provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
    # ddtrace's OTel bridge installs its own TracerProvider (DD_TRACE_OTEL_ENABLED=true);
    # the Agent's OTLP intake maps operation.name/resource.name when they are present.
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "")
    return type(provider).__module__.startswith("ddtrace") or "datadog_otlp" in exporters


# Held for a whole install or uninstall: `import stripe_otel.auto` in one thread and
# instrument() in another must not both install (every patch would go in twice). Apart
# from _lock, which the post-import appliers take (they can run inside install()).
_install_lock = threading.Lock()


def install(**kwargs: Any) -> None:
    """Resolve the settings (raising ConfigError for a bad one) and install the patches;
    a no-op if already installed."""
    with _install_lock:
        if not _installed:
            _install(**kwargs)


def _install(**kwargs: Any) -> None:
    global _generation, _installed
    # Everything but OpenTelemetry's own provider arguments is a setting, so a misspelt
    # one raises ConfigError instead of being ignored.
    settings = Settings.resolve(**{k: v for k, v in kwargs.items() if k not in OTEL_KWARGS})
    if not settings.enabled:
        _installed = True  # installed as "off": uninstrument() still works as expected
        return
    tracer = trace.get_tracer(
        semconv.INSTRUMENTATION_NAME, __version__, tracer_provider=kwargs.get("tracer_provider")
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
    with _lock:
        _generation += 1
        generation = _generation
        _runtime.current = _runtime.Runtime(
            tracer, settings, instruments, _wants_datadog_names(settings, kwargs)
        )
        _installed = True

    wanted = [*requestor.patches(), *retry_loop.patches(), *webhooks.patches()]
    if settings.phases:
        wanted += [
            *httpx_transport.patches(),
            *urllib3_transport.patches(),
            *urllib_transport.patches(),
            *dns.patches(),
        ]
    # Each patch goes in when its own module is imported, at once if it already is.
    # stripe loads its modules lazily (StripeClient, webhooks...); waiting for each one
    # leaves the app's import profile as it was instead of loading them all up front.
    groups: dict[str, list[Patch]] = {}
    for patch in wanted:
        groups.setdefault(patch.module, []).append(patch)
    for module, patches in groups.items():
        when_imported(module)(_applier(generation, patches))
    if settings.flush_on_sigterm:  # SIGTERM's default disposition skips atexit flushes
        _shutdown.install(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))


def _applier(generation: int, patches: list[Patch]) -> Any:
    def apply(_module: object) -> None:
        with _lock:
            if generation != _generation:
                return  # uninstrumented (or re-instrumented) since this was registered
            for patch in patches:
                if patch.apply():
                    _patches.append(patch)

    return apply


def uninstall() -> None:
    """Remove every patch, exactly as it was; hooks pass through from now on."""
    with _install_lock:
        _uninstall()


def _uninstall() -> None:
    global _generation, _installed
    with _lock:
        _generation += 1
        _runtime.current = None
        _installed = False
        while _patches:
            _patches.pop().remove()
    _rtt.forget()
    _shutdown.uninstall()
